#!/usr/bin/env python3
"""
bench/makespan.py: how close a run came to the shortest schedule possible,
from its provenance alone (issue 15; docs/benchmarks.md, "Makespan").

  makespan.py analyse STORE [--run N] [--slots N]
      one run (default: the latest that started a stage) of the store at
      STORE (or a provenance.db path): its makespan against the lower bound
  makespan.py gen DIR [--root REPO]
      writes DIR/study.yaml, the synthetic study with fixed sleeps below
  makespan.py synthetic [--work DIR]
      gen, a run into a fresh store, a second run of every stage with the
      first run's durations on record (--force '*'), both analysed

For one run, over its executions that started a process (ran, failed,
retried):
  makespan    max(ended) - min(started)
  slot time   the sum of wall_s x the stage's slots (STUDY_THREADS in its
              recorded environment): wall time, not cpu_s, because a stage
              holds its slots while it waits too, and because load from other
              processes stretches the stages' wall times and the makespan
              alike, so the ratio stays meaningful on a shared machine
  critical    the longest path through the run's stages, each weighing the
  path        wall time of its attempts in this run, edges from the
              recorded inputs (a cache hit weighs 0 and ends the path)
  bound       max(critical path, slot time / slots); slots from the run's
              -j (its argv), else --slots, else this machine's CPU count
  ratio       makespan / bound (1.00 = no schedule could be shorter)

The synthetic study: on 2 slots, eight 1.5 s stages declared first, a chain
of three 2 s stages, and one 14 s stage declared last, all `toystage sleep`
(load moves none of these numbers). Slot time 32 s, so the bound is 16 s;
started in file order, the 14 s stage starts at 6 s and ends at 20 s (1.25x).
"""
import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDY = os.environ.get("STUDY_BIN") or os.path.join(REPO, "bin", "study")


def _slots_from_argv(argv_json):
    """-j N, -jN, --jobs N, --jobs=N in a recorded orchestrator argv, else None."""
    try:
        argv = json.loads(argv_json or "[]")
    except ValueError:
        return None
    for k, a in enumerate(argv):
        v = None
        if a in ("-j", "--jobs") and k + 1 < len(argv):
            v = argv[k + 1]
        elif a.startswith("--jobs="):
            v = a[len("--jobs="):]
        elif a.startswith("-j") and len(a) > 2 and not a.startswith("--"):
            v = a[2:]
        if v is not None and v.isdigit():
            return int(v)
    return None


def analyse(store, run=None, slots=None):
    """The numbers above for one run, as a dict (None when nothing ran)."""
    db = store if store.endswith(".db") else os.path.join(store, "provenance.db")
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        if run is None:
            row = con.execute("SELECT max(run_id) FROM executions WHERE started > 0").fetchone()
            run = row[0] if row else None
            if run is None:
                return None
        argv = con.execute("SELECT argv_json FROM runs WHERE id = ?", (run,)).fetchone()
        j = _slots_from_argv(argv[0]) if argv else None
        slots_note = "-j in the run's argv"
        if j is None:
            j = slots or os.cpu_count() or 1
            slots_note = "--slots" if slots else "this machine's CPU count"
        rows = con.execute(
            "SELECT stage_id, started, ended, wall_s, env_json FROM executions"
            " WHERE run_id = ? AND started > 0 AND ended >= started", (run,)).fetchall()
        if not rows:
            return None
        weight, slot_time = {}, 0.0
        for stage, started, ended, wall, env in rows:
            wall = wall if wall is not None else ended - started
            try:
                width = int(json.loads(env or "{}").get("STUDY_THREADS", "1"))
            except ValueError:
                width = 1
            width = max(1, min(width, j))
            weight[stage] = weight.get(stage, 0.0) + wall
            slot_time += wall * width
        makespan = max(r[2] for r in rows) - min(r[1] for r in rows)
        edges = {}
        for stage, producer in con.execute(
                "SELECT DISTINCT e.stage_id, i.stage_id FROM inputs i"
                " JOIN executions e ON e.id = i.execution_id"
                " WHERE e.run_id = ? AND e.started > 0", (run,)):
            edges.setdefault(stage, set()).add(producer)
    finally:
        con.close()
    memo = {}

    def path_to(stage):
        # longest path ending with `stage` (iterative: deep DAGs)
        stack = [stage]
        while stack:
            s = stack[-1]
            if s in memo:
                stack.pop()
                continue
            todo = [p for p in edges.get(s, ()) if p not in memo]
            if todo:
                stack.extend(todo)
                continue
            memo[s] = weight.get(s, 0.0) + max((memo[p] for p in edges.get(s, ())),
                                               default=0.0)
            stack.pop()
        return memo[stage]

    critical = max(path_to(s) for s in weight)
    bound = max(critical, slot_time / j)
    return {"run": run, "started": min(r[1] for r in rows), "slots": j,
            "slots_from": slots_note, "stages": len(weight),
            "makespan_s": makespan, "slot_time_s": slot_time, "critical_path_s": critical,
            "bound_s": bound, "ratio": makespan / bound if bound > 0 else None}


def describe(r):
    return ("run %d: %d stages on %d slots: makespan %.1f s, bound %.1f s (critical path"
            " %.1f s, slot time %.1f s / %d): %.3fx"
            % (r["run"], r["stages"], r["slots"], r["makespan_s"], r["bound_s"],
               r["critical_path_s"], r["slot_time_s"], r["slots"], r["ratio"]))


# ---- the synthetic study ----------------------------------------------------------------

SHORT_S, CHAIN_S, BIG_S = 1.5, 2.0, 14.0


def gen(d, root=REPO):
    os.makedirs(d, exist_ok=True)
    tool = "stages/bin/toystage"
    lines = ["# generated by bench/makespan.py: a DAG whose file order is a bad schedule",
             "study: makespan", "root: %s" % root, "data:"]

    def stage(name, secs, after=None):
        dep = ', --after, "${data.%s}"' % after if after else ""
        lines.append('  %s: {run: [%s, sleep, --seconds, "%s"%s, --out, "${out}"]}'
                     % (name, tool, secs, dep))

    for k in range(1, 9):
        stage("short%d" % k, SHORT_S)
    stage("chain1", CHAIN_S)
    stage("chain2", CHAIN_S, "chain1")
    stage("chain3", CHAIN_S, "chain2")
    stage("big", BIG_S)
    path = os.path.join(d, "study.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _run(argv):
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), p.returncode, p.stdout))
    return time.perf_counter() - t0


def synthetic(work, log=print):
    """Fresh store, then every stage again with durations on record."""
    d = os.path.join(work, "makespan")
    subprocess.run(["rm", "-rf", d], check=True)
    path = gen(d)
    store = os.path.join(d, "store")
    out = {}
    _run([STUDY, "run", path, "-j", "2", "--store", store])
    out["fresh"] = analyse(store)
    log("  synthetic, fresh store (nothing recorded): " + describe(out["fresh"]))
    _run([STUDY, "run", path, "-j", "2", "--store", store, "--force", "*"])
    out["recorded"] = analyse(store)
    log("  synthetic, durations recorded (--force '*'): " + describe(out["recorded"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a1 = sub.add_parser("analyse")
    a1.add_argument("store")
    a1.add_argument("--run", type=int)
    a1.add_argument("--slots", type=int)
    a1.add_argument("--json", action="store_true")
    a2 = sub.add_parser("gen")
    a2.add_argument("dir")
    a2.add_argument("--root", default=REPO)
    a3 = sub.add_parser("synthetic")
    a3.add_argument("--work", default="/tmp/study-bench")
    a = ap.parse_args()
    if a.cmd == "analyse":
        r = analyse(a.store, a.run, a.slots)
        if r is None:
            print("no run that started a stage", file=sys.stderr)
            return 1
        print(json.dumps(r, indent=1, sort_keys=True) if a.json else describe(r))
    elif a.cmd == "gen":
        print(gen(a.dir, a.root))
    else:
        synthetic(a.work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
