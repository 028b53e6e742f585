#!/usr/bin/env python3
"""
bench/bench.py: `study` side by side with Snakemake, ninja and make.

Run through `make bench` (full: about 100, 1,000 and 10,000 tasks) or
`make bench-quick` (100 and 1,000 tasks, under 3 minutes). Prints a table and
writes bench/results/latest.md and latest.json (machine, versions, date, every
raw timing). docs/benchmarks.md explains the method.

For each size and tool:
  cold   a clean build at -j2 (empty store / no outputs), median of several runs
  noop   a rerun with everything up to date, median of several runs
  plan   a dry run (nothing built yet): what would run, nothing executed
Each run's wall time (time.perf_counter around fork/exec/wait) and peak RSS
(ru_maxrss from wait4: the largest process of the tool's tree) are kept. A case
that runs over the limit (5 minutes) is killed and reported as skipped.

Then, on a SLURM cluster (bench/slurm_bench.py; skipped with the reason when
none can be started): the example study and a synthetic one via `study run
--executor slurm`, against the same jobs from a plain sbatch loop and against
`snakemake --slurm`.

Then: SHA-256 throughput of `study hash` against sha256sum and openssl on a
1 GiB file and on a tree of 10,000 small files (hyperfine); the import of a
4 GiB directory of 8 files as an external input (`inputs:`) against
sha256sum, `study hash` and `cp --reflink=auto`, with the rerun the stat
cache makes cheap (--only-import runs just that; --cold-cache drops the
page cache before each read); and the no-op rerun of studies/six-models.yaml
(studies/example.yaml when it is absent).

All scratch data lives under --work (default /tmp/study-bench), never in the repo.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time

import slurm_bench

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDY = os.path.join(REPO, "bin", "study")
TOOLS = ["study", "ninja", "make", "snakemake"]
LIMIT_S = 300.0


def log(msg):
    print(msg, flush=True)


# ---- running one command ------------------------------------------------------------

class Timeout(Exception):
    pass


def measure(argv, cwd, limit=LIMIT_S):
    """Run argv in cwd (output discarded). Returns (seconds, peak_rss_kib, exit code);
    raises Timeout after `limit` seconds (the whole process group is killed)."""
    # Peak RSS through /usr/bin/time: a child forked from Python would report
    # Python's own RSS (ru_maxrss survives exec). time adds ~1 ms to every tool.
    rssfile = os.path.join(TRASH[0] or "/tmp", ".bench-rss")
    argv = ["/usr/bin/time", "-f", "%M", "-o", rssfile] + argv
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    fired = []

    def on_alarm(signum, frame):
        fired.append(1)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    dt = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    try:
        os.killpg(p.pid, signal.SIGKILL)  # nothing may outlive a measurement
    except (ProcessLookupError, PermissionError):
        pass
    if fired:
        raise Timeout()
    try:
        rss = int(open(rssfile).read().split()[-1])
    except (OSError, ValueError, IndexError):
        rss = 0
    return dt, rss, p.returncode


def sh(cmd, cwd=None):
    return subprocess.run(cmd, shell=True, cwd=cwd, check=False, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True).stdout.strip()


TRASH = [None]  # cleaned outputs are moved here, removed at the very end


def discard(path):
    """Move path out of the way (rename) instead of deleting it now: on ext4, a
    burst of deletions makes the next inode allocations slow for seconds, which
    would charge one tool's cleanup to the next measured run."""
    if not os.path.lexists(path):
        return
    if TRASH[0] is None:
        rm_rf(path)
        return
    discard.n = getattr(discard, "n", 0) + 1
    os.rename(path, os.path.join(TRASH[0], "t%d" % discard.n))


def rm_rf(path):
    if os.path.lexists(path):
        subprocess.run(["chmod", "-R", "u+rwx", path], stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", path], check=True)


# ---- the four tools on one generated DAG ---------------------------------------------

class Case:
    """How to build, rerun and plan one tool's copy of the DAG under `base`."""

    def __init__(self, tool, base):
        self.tool = tool
        self.base = base
        self.dir = os.path.join(base, tool)
        self.store = os.path.join(base, "study-store")

    def clean(self):
        if self.tool == "study":
            discard(self.store)
            return
        for name in os.listdir(self.dir):
            if name not in ("Makefile", "build.ninja", "Snakefile"):
                discard(os.path.join(self.dir, name))

    def build_argv(self):
        return {
            "study": [STUDY, "run", "study.yaml", "-j", "2", "--store", self.store],
            "ninja": ["ninja", "-j2"],
            "make": ["make", "-j2"],
            "snakemake": ["snakemake", "--cores", "2"],
        }[self.tool]

    def plan_argv(self):
        return {
            "study": [STUDY, "run", "study.yaml", "--dry-run", "--store", self.store],
            "ninja": ["ninja", "-n"],
            "make": ["make", "-n"],
            "snakemake": ["snakemake", "-n", "--cores", "2"],
        }[self.tool]

    def report_text(self):
        """The final report's content, or None."""
        if self.tool != "study":
            p = os.path.join(self.dir, "report", "result.txt")
            return open(p).read() if os.path.exists(p) else None
        import sqlite3
        db = os.path.join(self.store, "provenance.db")
        if not os.path.exists(db):
            return None
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        row = con.execute("select output_digest from executions where stage_id='report' "
                          "and output_digest is not null order by id desc limit 1").fetchone()
        con.close()
        if not row:
            return None
        return open(os.path.join(self.store, "out", row[0], "result.txt")).read()

    def outputs_count(self):
        if self.tool == "study":
            return None
        n = 0
        for root, _, files in os.walk(self.dir):
            n += files.count("result.txt")
        return n


def settle():
    """Write back what the cold builds left dirty before timing no-ops: the
    kernel throttles any process that writes (study's WAL) while a large
    writeback is pending, which charged one tool's cold build to the next
    measurement (10,000 tasks: 0.30 s right after the cold run, 0.22 s after
    sync). Applied before every tool's no-op alike."""
    os.sync()


def run_reps(name, argv, cwd, reps, prepare=None):
    """Run `reps` times; returns a dict with raw times, rss and status."""
    res = {"argv": argv, "times_s": [], "rss_kib": [], "skipped": None}
    for i in range(reps):
        if prepare:
            prepare()
        try:
            dt, rss, rc = measure(argv, cwd)
        except Timeout:
            res["skipped"] = "over %d s (killed)" % LIMIT_S
            log("    %-28s killed after %d s: skipped" % (name, LIMIT_S))
            return res
        if rc != 0:
            res["skipped"] = "exit status %d" % rc
            log("    %-28s exit status %d" % (name, rc))
            return res
        res["times_s"].append(dt)
        res["rss_kib"].append(rss)
    if res["times_s"]:
        res["median_s"] = statistics.median(res["times_s"])
        res["peak_rss_kib"] = max(res["rss_kib"])
        log("    %-28s median %8.3f s  (n=%d, min %.3f, max %.3f)  peak RSS %6.1f MiB"
            % (name, res["median_s"], len(res["times_s"]), min(res["times_s"]),
               max(res["times_s"]), res["peak_rss_kib"] / 1024))
    return res


def bench_size(models, work, reps, tools):
    n = 12 * models + 1
    base = os.path.join(work, "n%d" % n)
    rm_rf(base)
    out = subprocess.run([sys.executable, os.path.join(REPO, "bench", "gen.py"), "--models",
                          str(models), "--dir", base, "--root", REPO], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.strip()
    assert int(out) == n
    log("== %d tasks (%d models x (1 model + 2 methods + 9 evaluations) + 1 report) =="
        % (n, models))
    result = {"tasks": n, "models": models, "tools": {}}
    reports = {}
    for tool in tools:
        c = Case(tool, base)
        r = {}
        cold_reps = reps["cold_snakemake"] if tool == "snakemake" else reps["cold"]
        if tool == "snakemake" and n > reps["snakemake_max"]:
            skip = "not run at this size (a cold run takes ~%d s here, over the 5-minute limit)" \
                   % int(n * 0.14)
            r = {"cold": {"skipped": skip}, "noop": {"skipped": skip}, "plan": None}
        else:
            r["cold"] = run_reps("%s cold" % tool, c.build_argv(), c.dir, cold_reps, c.clean)
        if r["cold"].get("times_s"):
            reports[tool] = c.report_text()
            cnt = c.outputs_count()
            if cnt is not None and cnt != n:
                log("    WARNING: %s produced %d outputs, expected %d" % (tool, cnt, n))
            r["outputs"] = cnt if cnt is not None else n
            noop_reps = reps["noop_snakemake"] if tool == "snakemake" else reps["noop"]
            settle()
            r["noop"] = run_reps("%s no-op" % tool, c.build_argv(), c.dir, noop_reps)
        elif "noop" not in r:
            r["noop"] = {"skipped": "no completed cold build"}
        r["plan"] = run_reps("%s plan (dry run)" % tool, c.plan_argv(), c.dir,
                             reps["plan_snakemake"] if tool == "snakemake" else reps["plan"],
                             c.clean)
        c.clean()
        result["tools"][tool] = r
    texts = {t: v for t, v in reports.items() if v is not None}
    same = len(set(texts.values())) == 1 and len(texts) == len(reports)
    result["report_identical"] = same
    result["report_text"] = texts
    log("    final report identical across %s: %s" % (", ".join(sorted(texts)),
                                                     "yes" if same else "NO"))
    if not same:
        for t, v in texts.items():
            log("      %s: %s" % (t, v.strip()))
    return result


# ---- hashing ----------------------------------------------------------------------------

def hyperfine(cmds, reps, jsonpath, shell=False):
    argv = ["hyperfine", "--warmup", "1", "--runs", str(reps), "--export-json", jsonpath,
            "--style", "basic"]
    if not shell:
        argv.append("-N")
    subprocess.run(argv + cmds, check=True, stdout=subprocess.DEVNULL)
    with open(jsonpath) as f:
        return json.load(f)["results"]


def bench_hash(work, reps, quick):
    d = os.path.join(work, "hash")
    os.makedirs(d, exist_ok=True)
    size = (256 if quick else 1024) << 20
    big = os.path.join(d, "big.bin")
    if not os.path.exists(big) or os.path.getsize(big) != size:
        log("  writing %d MiB of random data" % (size >> 20))
        with open(big, "wb") as f:
            for _ in range(size >> 20):
                f.write(os.urandom(1 << 20))
    tree = os.path.join(d, "tree")
    nfiles = 10000
    if not os.path.isdir(tree) or len(os.listdir(tree)) != 100:
        rm_rf(tree)
        for i in range(nfiles):
            sub = os.path.join(tree, "d%02d" % (i % 100))
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, "f%05d.txt" % i), "wb") as f:
                f.write(os.urandom(1024 + (i % 7) * 100))
    tree_bytes = sum(os.path.getsize(os.path.join(r, x)) for r, _, fs in os.walk(tree)
                     for x in fs)
    out = {"file_bytes": size, "tree_files": nfiles, "tree_bytes": tree_bytes}
    # correctness first: the same digest as sha256sum
    ours = sh("%s hash %s" % (STUDY, big)).split()[0]
    theirs = sh("sha256sum %s" % big).split()[0]
    out["file_digest_matches_sha256sum"] = ours == theirs
    log("  study hash of the file matches sha256sum: %s" % ("yes" if ours == theirs else "NO"))
    r = hyperfine(["%s hash %s" % (STUDY, big), "sha256sum %s" % big,
                   "openssl dgst -sha256 %s" % big], reps, os.path.join(d, "file.json"))
    out["file"] = {}
    for name, x in zip(["study hash", "sha256sum", "openssl dgst -sha256"], r):
        out["file"][name] = {"times_s": x["times"], "median_s": x["median"],
                             "mib_per_s": size / x["median"] / (1 << 20)}
    files = "find %s -type f -print0 | " % tree
    r = hyperfine(["%s hash %s" % (STUDY, tree),
                   files + "xargs -0 sha256sum > /dev/null",
                   files + "xargs -0 openssl dgst -sha256 > /dev/null"], reps,
                  os.path.join(d, "tree.json"), shell=True)
    out["tree"] = {}
    for name, x in zip(["study hash (tree digest)", "find | xargs sha256sum",
                        "find | xargs openssl dgst -sha256"], r):
        out["tree"][name] = {"times_s": x["times"], "median_s": x["median"],
                             "mib_per_s": tree_bytes / x["median"] / (1 << 20)}
    for k in ("file", "tree"):
        for name, x in out[k].items():
            log("  %-4s %-36s median %7.3f s  %8.1f MiB/s" % (k, name, x["median_s"],
                                                            x["mib_per_s"]))
    o = out["file"]["openssl dgst -sha256"]["mib_per_s"]
    out["file_ratio_to_openssl"] = out["file"]["study hash"]["mib_per_s"] / o
    ot = out["tree"]["find | xargs openssl dgst -sha256"]["mib_per_s"]
    out["tree_ratio_to_openssl"] = out["tree"]["study hash (tree digest)"]["mib_per_s"] / ot
    return out


# ---- importing an external input (issue 12) ------------------------------------------

def drop_caches():
    """Empty the page cache (root only) so that a read measures the disk, not
    memory. Returns False when not permitted (the numbers are then warm)."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def bench_import(work, quick, cold):
    """Hash and import throughput of a multi-GB directory (a checkpoint: a few
    large files) through `inputs:`, side by side with sha256sum, `study hash`
    and `cp --reflink=auto`; then the rerun that the stat cache makes cheap,
    and a rerun after every file was touched (hashed again, not copied).
    With `cold`, the page cache is dropped before each read (root only)."""
    d = os.path.join(work, "import")
    ckpt = os.path.join(d, "ckpt")
    nfiles, size = (4, 128 << 20) if quick else (8, 512 << 20)
    total = nfiles * size
    os.makedirs(ckpt, exist_ok=True)
    names = ["model-%05d-of-%05d.safetensors" % (i + 1, nfiles) for i in range(nfiles)]
    if sorted(os.listdir(ckpt)) != names or any(
            os.path.getsize(os.path.join(ckpt, n)) != size for n in names):
        rm_rf(ckpt)
        os.makedirs(ckpt)
        log("  writing %d files of %d MiB (%.1f GiB) of random data" % (nfiles, size >> 20,
                                                                      total / (1 << 30)))
        chunk = os.urandom(1 << 20)
        for i, n in enumerate(names):
            with open(os.path.join(ckpt, n), "wb") as f:
                for k in range(size >> 20):
                    # distinct 1 MiB blocks, cheaply: a counter prefix on one random block
                    f.write(b"%08d%08d" % (i, k) + chunk[16:])
    files = " ".join(os.path.join(ckpt, n) for n in names)
    study = os.path.join(d, "import.yaml")
    store = os.path.join(d, "store")
    with open(study, "w") as f:
        f.write("study: import-bench\n"
                "inputs:\n  ckpt: {path: %s}\n"
                "data:\n  ls: {run: [sh, -c, 'ls -l \"$0\" >\"$1/ls\"', \"${inputs.ckpt}\","
                " \"${out}\"]}\n" % ckpt)
    copy = os.path.join(d, "copy")
    dropped = [False]

    def prep():
        if cold:
            dropped[0] = drop_caches()
        else:
            os.sync()

    reps = 2 if quick else 3

    def one(name, argv, before=None):
        times, rc = [], 0
        for _ in range(reps):
            if before:
                before()
            prep()
            dt, _, rc = measure(argv, d, limit=3600)
            if rc != 0:
                break
            times.append(dt)
        dt = statistics.median(times) if times else 0.0
        mib = total / dt / (1 << 20) if rc == 0 and dt else 0.0
        log("  %-44s %8.2f s  %8.1f MiB/s  (median of %d)%s"
            % (name, dt, mib, len(times), "" if rc == 0 else "  (exit %d)" % rc))
        return {"argv": argv, "times_s": times, "seconds": dt, "mib_per_s": mib, "exit": rc}

    out = {"files": nfiles, "bytes": total, "cold_cache": cold}
    r = {}
    r["cat (read only)"] = one("cat (read only)", ["sh", "-c", "cat %s > /dev/null" % files])
    r["sha256sum"] = one("sha256sum", ["sh", "-c", "sha256sum %s > /dev/null" % files])
    r["study hash (tree digest)"] = one("study hash (tree digest)", [STUDY, "hash", ckpt])
    r["cp --reflink=auto"] = one("cp --reflink=auto -r", ["cp", "--reflink=auto", "-r", ckpt, copy],
                                 before=lambda: (rm_rf(copy), os.sync()))
    rm_rf(copy)
    os.sync()
    r["study run (import: hash + copy)"] = one(
        "study run, first import (hash + copy, -j2)",
        [STUDY, "run", study, "-j", "2", "--store", store],
        before=lambda: (rm_rf(store), os.sync()))
    ok = r["study run (import: hash + copy)"]["exit"] == 0
    digest_ok = ok and sh("%s show input/ckpt --store %s | sed -n 's/^digest *//p'"
                          % (STUDY, store)) == sh("%s hash %s" % (STUDY, ckpt)).split()[0]
    out["digest_matches_study_hash"] = digest_ok
    log("  the imported digest is study hash's: %s" % ("yes" if digest_ok else "NO"))
    # the rerun: nothing changed, the stat cache answers (no read at all)
    time.sleep(0.1)
    os.sync()
    dt, _, rc = measure([STUDY, "run", study, "-j", "2", "--store", store], d)  # records the stat
    reruns = []
    for _ in range(5):
        dt, _, rc = measure([STUDY, "run", study, "-j", "2", "--store", store], d)
        reruns.append(dt)
    out["rerun_s"] = reruns
    out["rerun_median_s"] = statistics.median(reruns)
    log("  %-44s %8.3f s  (median of %d)" % ("study run, unchanged (stat cache)",
                                             out["rerun_median_s"], len(reruns)))
    # touched: every file is hashed again, nothing is copied
    r["study run after touch (hash only, -j2)"] = one(
        "study run after touching every file (hash, -j2)",
        [STUDY, "run", study, "-j", "2", "--store", store],
        before=lambda: (subprocess.run(["touch"] + [os.path.join(ckpt, n) for n in names]),
                        time.sleep(0.1)))
    out["commands"] = r
    out["cold_cache"] = cold and dropped[0]
    sha = r["sha256sum"]["mib_per_s"]
    if sha:
        out["import_ratio_to_sha256sum"] = r["study run (import: hash + copy)"]["mib_per_s"] / sha
        out["hash_ratio_to_sha256sum"] = r["study hash (tree digest)"]["mib_per_s"] / sha
    cpr = r["cp --reflink=auto"]["mib_per_s"]
    if cpr:
        out["import_ratio_to_cp"] = r["study run (import: hash + copy)"]["mib_per_s"] / cpr
    rm_rf(store)
    return out


def import_table(imp):
    md = []
    md.append("%d files, %.1f GiB, %s page cache (bench_import; medians):" % (
        imp["files"], imp["bytes"] / (1 << 30), "cold (dropped before each)" if imp["cold_cache"]
        else "warm"))
    md.append("")
    md.append("| command | seconds | MiB/s |")
    md.append("|---|---|---|")
    for name, x in imp["commands"].items():
        md.append("| `%s` | %.2f | %.1f |" % (name, x["seconds"], x["mib_per_s"]))
    md.append("| `study run`, unchanged (stat cache; median of %d) | %.3f | - |"
              % (len(imp["rerun_s"]), imp["rerun_median_s"]))
    md.append("")
    md.append("Import / sha256sum: %.2f; import / cp: %.2f; imported digest = `study hash`: %s."
              % (imp.get("import_ratio_to_sha256sum", 0), imp.get("import_ratio_to_cp", 0),
                 "yes" if imp.get("digest_matches_study_hash") else "NO"))
    return "\n".join(md)


# ---- the six-model study ------------------------------------------------------------

def bench_study_noop(work, reps, quick):
    six = os.path.join(REPO, "studies", "six-models.yaml")
    path = six if os.path.exists(six) and not quick else os.path.join(REPO, "studies",
                                                                       "example.yaml")
    note = None
    if path != six:
        note = ("studies/six-models.yaml does not exist yet" if not os.path.exists(six)
                else "quick mode") + ": measured studies/example.yaml instead"
    store = os.path.join(work, "store-" + os.path.basename(path).replace(".yaml", ""))
    log("  cold run of %s into %s (not timed; may take a while the first time)"
        % (os.path.relpath(path, REPO), store))
    try:
        dt, _, rc = measure([STUDY, "run", path, "-j", "2", "--store", store], REPO,
                            limit=3600)
    except Timeout:
        return {"study": os.path.relpath(path, REPO), "skipped": "cold run over an hour"}
    if rc != 0:
        return {"study": os.path.relpath(path, REPO), "skipped": "cold run failed (%d)" % rc}
    settle()
    res = run_reps("no-op %s" % os.path.basename(path), [STUDY, "run", path, "-j", "2",
                                                         "--store", store], REPO, reps)
    res["study"] = os.path.relpath(path, REPO)
    res["note"] = note
    res["first_run_s"] = dt
    return res


# ---- issue 15: makespan of a cold run, the no-op path against its floor --------------------

def _study_store(work, study_rel):
    """The store bench_study_noop ran `study_rel` into."""
    return os.path.join(work, "store-" + os.path.basename(study_rel).replace(".yaml", ""))


def bench_makespan(work, study_noop, since, quick):
    """How close cold runs came to the shortest schedule (bench/makespan.py):
    the study of bench_study_noop as first run into its store (nothing
    recorded: estimates only; only when that store was made after `since`,
    this bench's start), then every stage again with the durations on record
    (--force '*'); and, unless quick, the synthetic sleep study both ways."""
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import makespan
    out = {}
    if study_noop and study_noop.get("study") and not study_noop.get("skipped"):
        rel = study_noop["study"]
        store = _study_store(work, rel)
        first = makespan.analyse(store, run=1)
        if first and first["started"] >= since:
            out["fresh"] = dict(first, study=rel)
            log("  %s, first run (nothing recorded): %s" % (rel, makespan.describe(first)))
        else:
            log("  %s: its store predates this bench, no first run to analyse" % rel)
        log("  %s, every stage again with durations recorded (not timed; a cold run's length)"
            % rel)
        try:
            _, _, rc = measure([STUDY, "run", os.path.join(REPO, rel), "-j", "2", "--store",
                                store, "--force", "*"], REPO, limit=3600)
        except Timeout:
            rc = None
        if rc == 0:
            rec = makespan.analyse(store)
            out["recorded"] = dict(rec, study=rel)
            log("  %s, durations recorded: %s" % (rel, makespan.describe(rec)))
        else:
            out["recorded"] = {"study": rel, "skipped": "the forced run failed (%s)" % rc}
    if quick:
        return out  # bench-quick stays under 3 minutes; the synthetic study takes 40 s
    try:
        out["synthetic"] = makespan.synthetic(work, log=log)
    except RuntimeError as e:
        out["synthetic"] = {"skipped": str(e)}
    return out


def _ninja_of_study(study_rel, d):
    """build.ninja with the study's DAG (`study dag --format json`), one
    `touch` per stage; built once. Returns the number of edges."""
    dag = json.loads(subprocess.run([STUDY, "dag", os.path.join(REPO, study_rel), "--format",
                                     "json"], check=True, stdout=subprocess.PIPE,
                                    text=True).stdout)

    def name(stage_id):
        return "out/" + stage_id.replace("/", "__").replace(":", "_").replace(" ", "_") + ".done"

    lines = ["rule touch", "  command = touch $out", ""]
    for st in dag["stages"]:
        ins = " ".join(name(i["stage"]) for i in st["inputs"])
        lines.append("build %s: touch%s" % (name(st["id"]), (" " + ins) if ins else ""))
    rm_rf(d)
    os.makedirs(os.path.join(d, "out"))
    with open(os.path.join(d, "build.ninja"), "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["ninja", "-C", d], check=True, stdout=subprocess.DEVNULL)
    return len(dag["stages"])


def bench_noop_floor(work, study_noop, reps):
    """The study's no-op rerun beside `study --help` (the process alone) and
    ninja's no-op on a build.ninja of the same DAG, hyperfine -N."""
    if not study_noop or not study_noop.get("median_s"):
        return {"skipped": "no no-op store"}
    rel = study_noop["study"]
    store = _study_store(work, rel)
    d = os.path.join(work, "ninja-" + os.path.basename(rel).replace(".yaml", ""))
    edges = _ninja_of_study(rel, d)
    settle()
    names = ["study no-op (%s)" % rel, "study --help", "ninja no-op (%d edges)" % edges]
    r = hyperfine(["%s run %s -j 2 --store %s" % (STUDY, os.path.join(REPO, rel), store),
                   "%s --help" % STUDY, "ninja -C %s" % d], reps,
                  os.path.join(work, "noop-floor.json"))
    out = {"study": rel, "edges": edges, "load": " ".join(open("/proc/loadavg").read().split()[:3]),
           "cases": {}}
    for n, x in zip(names, r):
        out["cases"][n] = {"times_s": x["times"], "median_s": x["median"], "min_s": min(x["times"])}
        log("  %-36s median %6.1f ms  (min %.1f)" % (n, x["median"] * 1000,
                                                  min(x["times"]) * 1000))
    return out


def issue15_targets(results):
    """The two targets of issue 15, in the form of targets()."""
    out = []
    m = results.get("makespan") or {}
    rec = m.get("recorded") or {}
    # a study of sub-second stages measures the orchestrator, not the order
    if rec.get("ratio") and rec["bound_s"] >= 10:
        out.append({"target": "cold run of %s within 1.05x of max(critical path, slot time / "
                              "slots), durations recorded" % rec["study"],
                    "holds": rec["ratio"] <= 1.05,
                    "detail": "makespan %.1f s, bound %.1f s: %.3fx" % (
                        rec["makespan_s"], rec["bound_s"], rec["ratio"])})
    f = results.get("noop_floor") or {}
    case = (f.get("cases") or {}).get("study no-op (%s)" % f.get("study"))
    if case:
        out.append({"target": "no-op of %s <= 12 ms (median)" % f["study"],
                    "holds": case["median_s"] <= 0.012,
                    "detail": "%.1f ms at load %s" % (case["median_s"] * 1000, f["load"])})
    return out


def issue15_markdown(results):
    md = []
    m = results.get("makespan")
    if m:
        md += ["", "## Makespan of a cold run (bench/makespan.py)", "",
               "| run | makespan (s) | critical path (s) | slot time (s) / slots | bound (s) | "
               "ratio |", "|---|---|---|---|---|---|"]
        rows = [("%s, first run (nothing recorded)" % (m.get("fresh") or {}).get("study"),
                 m.get("fresh")),
                ("%s, durations recorded" % (m.get("recorded") or {}).get("study"),
                 m.get("recorded"))]
        syn = m.get("synthetic") or {}
        rows += [("synthetic, first run", syn.get("fresh")),
                 ("synthetic, durations recorded", syn.get("recorded"))]
        for label, r in rows:
            if r and r.get("ratio"):
                md.append("| %s | %.1f | %.1f | %.1f / %d | %.1f | %.3fx |" % (
                    label, r["makespan_s"], r["critical_path_s"], r["slot_time_s"], r["slots"],
                    r["bound_s"], r["ratio"]))
    f = results.get("noop_floor")
    if f and f.get("cases"):
        md += ["", "## The no-op path (hyperfine -N, load %s)" % f["load"], "",
               "| command | median (ms) | min (ms) |", "|---|---|---|"]
        for n, x in f["cases"].items():
            md.append("| %s | %.1f | %.1f |" % (n, x["median_s"] * 1000, x["min_s"] * 1000))
    return md


# ---- report -----------------------------------------------------------------------------

def versions():
    v = {}
    v["study"] = sh("%s --version" % STUDY)
    v["ninja"] = sh("ninja --version")
    v["make"] = sh("make --version | head -1")
    v["snakemake"] = sh("snakemake --version")
    v["hyperfine"] = sh("hyperfine --version")
    v["sha256sum"] = sh("sha256sum --version | head -1")
    v["openssl"] = sh("openssl version")
    v["cc"] = sh("cc --version | head -1")
    v["python"] = platform.python_version()
    return v


def machine():
    m = {"uname": " ".join(platform.uname()), "cpus": os.cpu_count()}
    m["cpu"] = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    m["mem"] = sh("grep MemTotal /proc/meminfo").split(":")[1].strip()
    m["fs_tmp"] = sh("df -T /tmp | tail -1 | awk '{print $2}'")
    return m


def fmt_s(x):
    if x is None:
        return "-"
    return "%.3f" % x if x < 10 else "%.1f" % x


def table(results):
    lines = []
    hdr = ("| tasks | tool | cold -j2 (s) | no-op (s) | plan (s) | peak RSS cold (MiB) | "
           "cold / study | no-op / study | plan / study |")
    lines.append(hdr)
    lines.append("|" + "---|" * 9)
    for size in results["sizes"]:
        st = size["tools"].get("study", {})

        def med(tool, kind):
            x = size["tools"].get(tool, {}).get(kind) or {}
            return x.get("median_s")

        for tool in TOOLS:
            if tool not in size["tools"]:
                continue
            r = size["tools"][tool]
            row = [str(size["tasks"]), tool]
            for kind in ("cold", "noop", "plan"):
                m = med(tool, kind)
                if m is None:
                    sk = (r.get(kind) or {}).get("skipped")
                    row.append("skipped" if sk else "-")
                else:
                    row.append(fmt_s(m))
            rss = (r.get("cold") or {}).get("peak_rss_kib")
            row.append("%.1f" % (rss / 1024) if rss else "-")
            for kind in ("cold", "noop", "plan"):
                m, s = med(tool, kind), med("study", kind)
                row.append("%.2fx" % (m / s) if m and s and tool != "study" else
                           ("1" if tool == "study" and s else "-"))
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def targets(results):
    """Check the issue's targets on the largest size measured."""
    out = []
    big = results["sizes"][-1]
    t = big["tools"]

    def med(tool, kind):
        return ((t.get(tool) or {}).get(kind) or {}).get("median_s")

    def check(name, ok, detail):
        out.append({"target": name, "holds": ok, "detail": detail})

    s_cold, n_cold, k_cold = med("study", "cold"), med("ninja", "cold"), med("snakemake", "cold")
    if s_cold and n_cold:
        check("cold run within 1.25x of ninja (%d tasks)" % big["tasks"], s_cold <= 1.25 * n_cold,
              "study %.2f s, ninja %.2f s: %.2fx" % (s_cold, n_cold, s_cold / n_cold))
    if s_cold and k_cold:
        check("cold run >= 2.5x faster than Snakemake (%d tasks)" % big["tasks"],
              k_cold >= 2.5 * s_cold, "%.2fx" % (k_cold / s_cold))
    else:
        # compare at the largest size where Snakemake completed
        for size in reversed(results["sizes"]):
            tt = size["tools"]
            a = ((tt.get("snakemake") or {}).get("cold") or {}).get("median_s")
            b = ((tt.get("study") or {}).get("cold") or {}).get("median_s")
            if a and b:
                check("cold run >= 2.5x faster than Snakemake (%d tasks; not run at %d)"
                      % (size["tasks"], big["tasks"]), a >= 2.5 * b, "%.2fx" % (a / b))
                break
    s_noop, n_noop, k_noop = med("study", "noop"), med("ninja", "noop"), med("snakemake", "noop")
    if s_noop and n_noop:
        check("no-op within 2x of ninja (%d tasks)" % big["tasks"], s_noop <= 2 * n_noop,
              "study %.3f s, ninja %.3f s: %.2fx" % (s_noop, n_noop, s_noop / n_noop))
    for size in reversed(results["sizes"]):
        tt = size["tools"]
        a = ((tt.get("snakemake") or {}).get("noop") or {}).get("median_s")
        b = ((tt.get("study") or {}).get("noop") or {}).get("median_s")
        if a and b:
            check("no-op >= 20x faster than Snakemake (%d tasks)" % size["tasks"],
                  a >= 20 * b, "%.1fx" % (a / b))
            break
    six = results.get("study_noop") or {}
    if six.get("median_s"):
        check("no-op of %s <= 50 ms" % six["study"], six["median_s"] <= 0.050,
              "%.1f ms" % (six["median_s"] * 1000))
    imp = results.get("import") or {}
    if imp.get("import_ratio_to_sha256sum"):
        check("importing an input >= 80% of sha256sum's throughput",
              imp["import_ratio_to_sha256sum"] >= 0.8,
              "%.0f%%" % (100 * imp["import_ratio_to_sha256sum"]))
    if imp.get("rerun_median_s") is not None:
        check("rerun with an unchanged %.1f GiB input <= 50 ms" % (imp["bytes"] / (1 << 30)),
              imp["rerun_median_s"] <= 0.050, "%.1f ms" % (imp["rerun_median_s"] * 1000))
    h = results.get("hash") or {}
    if h.get("file_ratio_to_openssl"):
        check("hashing >= 90% of openssl throughput (file)", h["file_ratio_to_openssl"] >= 0.9,
              "%.0f%%" % (100 * h["file_ratio_to_openssl"]))
    sizes = results["sizes"]
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        ta = ((a["tools"].get("study") or {}).get("cold") or {}).get("median_s")
        tb = ((b["tools"].get("study") or {}).get("cold") or {}).get("median_s")
        if ta and tb:
            per_a, per_b = ta / a["tasks"], tb / b["tasks"]
            check("cold time linear in size (per task, %d vs %d tasks)" % (a["tasks"], b["tasks"]),
                  per_b <= 1.5 * per_a,
                  "%.2f ms vs %.2f ms per task" % (per_a * 1000, per_b * 1000))
    return out


def write_results(results, outdir):
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "latest.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write("\n")
    md = []
    md.append("# Benchmark results (%s)" % ("quick" if results["quick"] else "full"))
    md.append("")
    md.append("Generated by `make %s` on %s. Method: docs/benchmarks.md. Raw timings: "
              "latest.json." % ("bench-quick" if results["quick"] else "bench", results["date"]))
    md.append("")
    m = results["machine"]
    md.append("Machine: %s, %s CPUs, %s, /tmp on %s. Load average before/after: %s / %s."
              % (m["cpu"], m["cpus"], m["mem"], m["fs_tmp"], results["load_before"],
                 results["load_after"]))
    md.append("")
    md.append("Versions: " + "; ".join("%s: %s" % (k, v) for k, v in
                                       sorted(results["versions"].items())))
    md.append("")
    r = results.get("reps", {})
    md.append("Runs per case: cold %s (%s at 10,000 tasks; Snakemake %s), no-op %s (Snakemake %s), "
              "plan %s (Snakemake %s); every raw time is in latest.json."
              % (r.get("cold"), results.get("cold_reps_large", r.get("cold")),
                 r.get("cold_snakemake"), r.get("noop"), r.get("noop_snakemake"),
                 r.get("plan"), r.get("plan_snakemake")))
    md.append("")
    md.append("Ratios are peer time / study time (above 1: study is faster).")
    md.append("")
    md.append(table(results))
    md.append("")
    for size in results["sizes"]:
        for tool, r in size["tools"].items():
            for kind in ("cold", "noop", "plan"):
                sk = (r.get(kind) or {}).get("skipped")
                if sk:
                    md.append("- %d tasks, %s %s: skipped (%s)" % (size["tasks"], tool, kind, sk))
        md.append("- %d tasks: final report identical across tools: %s"
                  % (size["tasks"], "yes" if size["report_identical"] else "NO"))
    h = results.get("hash")
    if h:
        md.append("")
        md.append("## Hashing")
        md.append("")
        md.append("| data | command | median (s) | MiB/s |")
        md.append("|---|---|---|---|")
        for k, label in (("file", "%d MiB file" % (h["file_bytes"] >> 20)),
                         ("tree", "%d files, %.1f MiB" % (h["tree_files"],
                                                          h["tree_bytes"] / (1 << 20)))):
            for name, x in h[k].items():
                md.append("| %s | `%s` | %.3f | %.1f |" % (label, name.replace("|", "\\|"),
                                                           x["median_s"],
                                                           x["mib_per_s"]))
    imp = results.get("import")
    if imp:
        md.append("")
        md.append("## Importing an external input")
        md.append("")
        md.append(import_table(imp))
    s = results.get("study_noop")
    if s:
        md.append("")
        md.append("## No-op rerun of %s" % s["study"])
        md.append("")
        if s.get("median_s"):
            md.append("Median of %d: %.1f ms (min %.1f, max %.1f); peak RSS %.1f MiB."
                      % (len(s["times_s"]), s["median_s"] * 1000, min(s["times_s"]) * 1000,
                         max(s["times_s"]) * 1000, s["peak_rss_kib"] / 1024))
        if s.get("note"):
            md.append("Note: " + s["note"] + ".")
        if s.get("skipped"):
            md.append("Skipped: " + s["skipped"] + ".")
    md += issue15_markdown(results)
    if "slurm" in results:
        md.extend(slurm_bench.markdown(results["slurm"]))
    md.append("")
    md.append("## Targets")
    md.append("")
    for t in results["targets"]:
        md.append("- %s %s: %s" % ("HOLDS" if t["holds"] else "MISSED", t["target"], t["detail"]))
    md.append("")
    with open(os.path.join(outdir, "latest.md"), "w") as f:
        f.write("\n".join(md))
    return "\n".join(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--quick", action="store_true", help="100 and 1,000 tasks, < 3 minutes")
    ap.add_argument("--models", help="comma-separated model counts (default 8,83,833)")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--work", default="/tmp/study-bench")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results"))
    ap.add_argument("--no-hash", action="store_true")
    ap.add_argument("--no-import", action="store_true")
    ap.add_argument("--only-import", action="store_true",
                    help="only the external-input import measurement (prints it)")
    ap.add_argument("--cold-cache", action="store_true",
                    help="drop the page cache before each import read (root only)")
    ap.add_argument("--no-slurm", action="store_true", help="skip the SLURM cluster part")
    ap.add_argument("--only-slurm", action="store_true", help="only the SLURM cluster part")
    ap.add_argument("--render", metavar="JSON", help="only rewrite latest.md from a latest.json")
    ap.add_argument("--cold-reps-large", type=int, default=3,
                    help="cold runs at 10,000 tasks (default 3)")
    a = ap.parse_args()
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        os.environ.pop(k, None)  # `make bench` must not leak its jobserver into the peers
    if a.quick:
        models = [8, 83]
        reps = {"cold": 2, "noop": 5, "plan": 3, "cold_snakemake": 1, "noop_snakemake": 2,
                "plan_snakemake": 1, "snakemake_max": 100}
    else:
        models = [8, 83, 833]
        reps = {"cold": 3, "noop": 10, "plan": 5, "cold_snakemake": 1, "noop_snakemake": 3,
                "plan_snakemake": 1, "snakemake_max": 1000}
    if a.models:
        models = [int(x) for x in a.models.split(",")]
    if a.render:
        with open(a.render) as f:
            results = json.load(f)
        results["targets"] = targets(results) + issue15_targets(results)
        print(write_results(results, a.out))
        return 0
    tools = a.tools.split(",")
    os.makedirs(a.work, exist_ok=True)
    TRASH[0] = os.path.join(a.work, "trash")
    rm_rf(TRASH[0])
    os.makedirs(TRASH[0])
    results = {
        "quick": a.quick,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": versions(),
        "git": sh("git -C %s describe --always --dirty" % REPO),
        "load_before": " ".join(open("/proc/loadavg").read().split()[:3]),
        "limit_s": LIMIT_S,
        "reps": reps,
        "cold_reps_large": a.cold_reps_large,
        "sizes": [],
    }
    t0 = time.time()
    if a.only_import:
        log("== importing an external input ==")
        imp = bench_import(a.work, a.quick, a.cold_cache)
        with open(os.path.join(a.work, "import.json"), "w") as f:
            json.dump(imp, f, indent=1, sort_keys=True)
        log("")
        log(import_table(imp))
        return 0
    if a.only_slurm:
        # only the SLURM part, into slurm-latest.*: the full results stay
        log("== on a SLURM cluster ==")
        results["slurm"] = slurm_bench.run(REPO, STUDY, a.work, a.quick, measure, Timeout, log)
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "slurm-latest.json"), "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
            f.write("\n")
        m = results["machine"]
        md = "\n".join(["# SLURM benchmark (%s, %s)" % ("quick" if a.quick else "full",
                                                         results["date"])]
                        + slurm_bench.markdown(results["slurm"])
                        + ["", "Machine: %s, %s CPUs; load average before/after: %s / %s. Raw"
                           " timings: slurm-latest.json." % (
                               m["cpu"], m["cpus"], results["load_before"],
                               " ".join(open("/proc/loadavg").read().split()[:3]))]) + "\n"
        with open(os.path.join(a.out, "slurm-latest.md"), "w") as f:
            f.write(md)
        log("")
        log(md)
        return 0
    for k in models:
        r = dict(reps)
        if 12 * k + 1 > 5000:
            r["cold"] = a.cold_reps_large
        results["sizes"].append(bench_size(k, a.work, r, tools))
    if not a.no_hash:
        log("== hashing ==")
        results["hash"] = bench_hash(a.work, 3 if a.quick else 5, a.quick)
    if not a.no_import:
        log("== importing an external input ==")
        results["import"] = bench_import(a.work, a.quick, a.cold_cache)
    log("== no-op rerun of a real study ==")
    results["study_noop"] = bench_study_noop(a.work, 10, a.quick)
    log("== the no-op path beside its floor (issue 15) ==")
    results["noop_floor"] = bench_noop_floor(a.work, results["study_noop"], 30)
    log("== makespan of cold runs (issue 15) ==")
    results["makespan"] = bench_makespan(a.work, results["study_noop"], t0, a.quick)
    if not a.no_slurm:
        log("== on a SLURM cluster ==")
        results["slurm"] = slurm_bench.run(REPO, STUDY, a.work, a.quick, measure, Timeout, log)
    results["load_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
    results["elapsed_s"] = time.time() - t0
    results["targets"] = targets(results) + issue15_targets(results)
    md = write_results(results, a.out)
    # The scratch outputs of the runs go in the background: deleting tens of
    # thousands of files takes minutes on this filesystem.
    gone = TRASH[0] + ".gone.%d" % os.getpid()
    os.rename(TRASH[0], gone)
    subprocess.Popen(["sh", "-c", "chmod -R u+rwx '%s'; rm -rf '%s'" % (gone, gone)],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    log("(removing %s in the background)" % gone)
    log("")
    log(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
