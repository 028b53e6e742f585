"""
bench/slurm_bench.py: the SLURM part of `make bench` (docs/benchmarks.md,
"On a SLURM cluster"), called by bench.py.

On the single-node test cluster (tests/slurm/up.sh, started through
tests/slurm/ensure.sh; skipped with the reason when there is none) it times
  - the example study (26 stages) and a synthetic study (gen.py: 13 and
    1,000 tasks) run by `study run --executor slurm`, cold (--quick: the
    example study only, once);
  - the same jobs submitted by a plain sbatch loop: the same argv (taken from
    the study run's provenance), inputs and resources, one sbatch call per
    task in plan order with --dependency=afterok on its inputs' jobs, then
    one squeue call every 0.1 s until none is left: the least a driver must
    do. Their ratio is the orchestration overhead (study time / loop time);
  - Snakemake's own SLURM support (`snakemake --slurm`, Debian's 7.21) on
    the synthetic study, at the fastest status polling it allows (1 check a
    second; a higher --max-status-checks-per-second is turned into one every
    30 s), with a separate time limit.
The jobs of all three end with the same report (checked).
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

WRAPPER = "#!/bin/sh\n# bench: run the argv given, no shell in between\nexec \"$@\"\n"


def sh(cmd, cwd=None, env=None):
    return subprocess.run(cmd, shell=True, cwd=cwd, env=env, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def cluster(repo):
    """(True, description) when a cluster answers (started when this is root)."""
    r = sh("sh %s" % os.path.join(repo, "tests", "slurm", "ensure.sh"))
    if r.returncode != 0:
        return False, r.stdout.strip() or "no SLURM cluster"
    info = sh("sinfo -h -N -o '%N %c CPUs, %m MB, %G' | head -n 1").stdout.strip()
    return True, "%s; %s" % (sh("sinfo -V").stdout.strip(), info)


def wait_jobs(ids, limit):
    """Poll squeue (one call for all) every 0.1 s until none of ids is queued or
    running. Returns their final states {id: state}, or None after `limit` s."""
    t_end = time.perf_counter() + limit
    joined = ",".join(ids)
    while True:
        r = subprocess.run(["squeue", "-h", "-t", "PD,R,CG,CF,S", "-j", joined, "-O", "JobID:"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if r.returncode == 0 and not r.stdout.strip():
            break
        if time.perf_counter() > t_end:
            subprocess.run(["scancel"] + ids, stderr=subprocess.DEVNULL)
            return None
        time.sleep(0.1)
    states = {}
    for chunk in range(0, len(ids), 1000):
        r = subprocess.run(["squeue", "-h", "-t", "all", "-j", ",".join(ids[chunk:chunk + 1000]),
                            "-O", "JobID:|,State:"], stdout=subprocess.PIPE, text=True)
        for line in r.stdout.split("\n"):
            if "|" in line:
                i, s = line.split("|", 1)
                states[i.strip()] = s.strip()
    return states


def sbatch_loop(tasks, base, limit):
    """tasks: [(label, argv, [index of each input task], outdir)] in plan order.
    Submits each with sbatch (dependencies afterok), waits for all. Returns
    (seconds, error or None)."""
    if os.path.exists(base):
        shutil.rmtree(base)
    os.makedirs(os.path.join(base, "logs"))
    wrapper = os.path.join(base, "run.sh")
    with open(wrapper, "w") as f:
        f.write(WRAPPER)
    os.chmod(wrapper, 0o755)
    for _, _, _, outdir in tasks:
        os.makedirs(outdir, exist_ok=True)
    ids = []
    t0 = time.perf_counter()
    for n, (label, argv, deps, _) in enumerate(tasks):
        cmd = ["sbatch", "--parsable", "--job-name=%s" % label.replace(" ", "_"),
               "--chdir=%s" % base, "--output=%s/logs/%d.out" % (base, n),
               "--error=%s/logs/%d.err" % (base, n)]
        if deps:
            cmd.append("--dependency=afterok:" + ":".join(ids[d] for d in deps))
        r = subprocess.run(cmd + [wrapper] + argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            subprocess.run(["scancel"] + ids, stderr=subprocess.DEVNULL)
            return None, "sbatch failed: " + r.stderr.strip()
        ids.append(r.stdout.strip().split(";")[0])
    states = wait_jobs(ids, limit)
    dt = time.perf_counter() - t0
    if states is None:
        return None, "over %d s (cancelled)" % limit
    bad = [s for s in states.values() if s != "COMPLETED"]
    if bad or len(states) != len(ids):
        return None, "%d of %d jobs did not complete" % (len(ids) - states_ok(states), len(ids))
    return dt, None


def states_ok(states):
    return sum(1 for s in states.values() if s == "COMPLETED")


def loop_tasks(study_bin, study_path, store, base):
    """The jobs a study run submitted, for the sbatch loop: each stage's argv as
    recorded (its ${out} moved under base; its inputs the run's outputs in the
    store), its inputs' tasks as dependencies, in plan order."""
    dag = json.loads(subprocess.run([study_bin, "dag", study_path, "--format", "json"],
                                    stdout=subprocess.PIPE, check=True, text=True).stdout)
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(store, "provenance.db"), uri=True)
    argv_of = dict(con.execute("SELECT stage_id, argv_json FROM executions WHERE status = 'ran'"))
    con.close()
    index = {s["id"]: i for i, s in enumerate(dag["stages"])}
    work = os.path.join(os.path.realpath(store), "work") + "/"
    tasks = []
    for i, s in enumerate(dag["stages"]):
        argv = json.loads(argv_of[s["id"]])
        if argv and isinstance(argv[0], list):
            raise ValueError("a stage of several steps: not supported by the loop")
        outdir = os.path.join(base, "out", "%d" % i)
        argv = [outdir if a.startswith(work) and a.endswith("/out") else a for a in argv]
        deps = sorted({index[x["stage"]] for x in s["inputs"]})
        tasks.append((s["id"], argv, deps, outdir))
    return tasks


def synthetic_tasks(repo, k, base):
    """gen.py's DAG of k models as loop tasks (the same argv as its study)."""
    sys.path.insert(0, os.path.join(repo, "bench"))
    import gen
    order = gen.tasks(k)
    index = {outdir: i for i, (_, outdir, _) in enumerate(order)}
    tool = os.path.join(repo, "stages", "bin", "toystage")
    tasks = []
    for label, outdir, inputs in order:
        argv = [tool, "derive", "--name", label, "--out", os.path.join(base, outdir)]
        argv += [os.path.join(base, d) for d in inputs]
        tasks.append((label, argv, sorted(index[d] for d in inputs), os.path.join(base, outdir)))
    return tasks


def study_report(store):
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(store, "provenance.db"), uri=True)
    row = con.execute("SELECT output_digest FROM executions WHERE stage_id = 'report' AND "
                      "output_digest IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    con.close()
    return row[0] if row else None


def file_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def run(repo, study_bin, work, quick, measure, timeout_exc, log, limit=300.0,
        snakemake_limit=900.0):
    """The SLURM results (a dict for latest.json)."""
    ok, info = cluster(repo)
    if not ok:
        log("  skipped: %s" % info)
        return {"skipped": info}
    log("  cluster: %s" % info)
    res = {"cluster": info, "cases": []}
    base = os.path.join(work, "slurm")
    if os.path.exists(base):
        shutil.rmtree(base)
    os.makedirs(base)

    def study_cold(path, reps, name):
        times, stores = [], []
        for i in range(reps):
            store = os.path.join(base, "%s-store%d" % (name, i))
            try:
                dt, _, rc = measure([study_bin, "run", path, "--executor", "slurm", "--store", store],
                                    repo, limit=limit)
            except timeout_exc:
                return times, stores, "over %d s (killed)" % limit
            if rc != 0:
                return times, stores, "exit status %d" % rc
            times.append(dt)
            stores.append(store)
        return times, stores, None

    def case(name, tasks_n, study_path, reps, loop_tasks_fn, snakemake_dir=None, loop_cmp=None):
        c = {"case": name, "tasks": tasks_n}
        times, stores, err = study_cold(study_path, reps, name)
        c["study_times_s"] = times
        if err:
            c["study_skipped"] = err
        log("    %-40s %s" % ("study --executor slurm", ("median %.2f s (n=%d)" % (
            sorted(times)[len(times) // 2], len(times))) if times else err))
        if stores:
            tasks = loop_tasks_fn(stores[0])
            lt = []
            for i in range(reps):
                dt, lerr = sbatch_loop(tasks, os.path.join(base, "%s-loop" % name),
                                       limit)
                if lerr:
                    c["loop_skipped"] = lerr
                    break
                lt.append(dt)
            c["loop_times_s"] = lt
            log("    %-40s %s" % ("plain sbatch loop (same jobs)", ("median %.2f s (n=%d)" % (
                sorted(lt)[len(lt) // 2], len(lt))) if lt else c.get("loop_skipped")))
            if times and lt:
                s = sorted(times)[len(times) // 2]
                l = sorted(lt)[len(lt) // 2]
                c["study_median_s"], c["loop_median_s"] = s, l
                c["overhead_ratio"] = s / l
                log("    %-40s %.2fx" % ("orchestration overhead (study / loop)", s / l))
            if loop_cmp:
                c["same_result"] = loop_cmp(stores[0])
        if snakemake_dir:
            c["snakemake"] = run_snakemake(snakemake_dir, snakemake_limit, log)
            if stores and c["snakemake"].get("report") is not None:
                c["snakemake"]["same_report"] = (c["snakemake"]["report"] == file_text(
                    os.path.join(stores[0], "out", study_report(stores[0]), "result.txt")))
        res["cases"].append(c)

    example = os.path.join(repo, "studies", "example.yaml")
    log("  == the example study (26 stages) ==")
    case("example", 26, example, 1 if quick else 3,
         lambda store: loop_tasks(study_bin, example, store, os.path.join(base, "example-loop")))

    # --quick (bench-quick stays short): the example study only
    for k in ([] if quick else [1, 83]):
        n = 12 * k + 1
        d = os.path.join(base, "gen-k%d" % k)
        subprocess.run([sys.executable, os.path.join(repo, "bench", "gen.py"), "--models",
                        str(k), "--dir", d, "--root", repo], check=True, stdout=subprocess.DEVNULL)
        log("  == synthetic study, %d tasks ==" % n)
        loopbase = os.path.join(base, "gen-k%d-loop" % k)

        def same(store, loopbase=loopbase):
            rep = file_text(os.path.join(loopbase, "report", "result.txt"))
            return rep is not None and rep == file_text(
                os.path.join(store, "out", study_report(store), "result.txt"))
        smk = os.path.join(d, "snakemake")
        case("synthetic-%d" % n, n, os.path.join(d, "study", "study.yaml"), 3 if n < 100 else 1,
             lambda store, k=k, lb=loopbase: synthetic_tasks(repo, k, lb),
             snakemake_dir=smk, loop_cmp=same)
    return res


def run_snakemake(d, limit, log):
    """`snakemake --slurm` in directory d (a gen.py Snakefile), timed once."""
    help_text = sh("snakemake --help").stdout
    if "--slurm" not in help_text:
        log("    snakemake --slurm: not available in this Snakemake")
        return {"skipped": "this Snakemake has no --slurm"}
    env = dict(os.environ)
    env.setdefault("USER", sh("id -un").stdout.strip())  # its SLURM executor reads $USER
    for name in os.listdir(d):
        if name != "Snakefile":
            p = os.path.join(d, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    part = sh("sinfo -h -o %P | sed -n 's/\\*$//p' | head -n 1").stdout.strip()
    argv = ["snakemake", "--slurm", "--jobs", "1000", "--max-status-checks-per-second", "1",
            "--default-resources", "slurm_partition=%s" % part, "mem_mb=1000"]
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        rc = p.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.wait()
        # its jobs are those running in its directory
        q = sh("squeue -h -u $(id -un) -O 'JobID:|,WorkDir:'").stdout
        ids = [l.split("|")[0].strip() for l in q.split("\n")
               if "|" in l and l.split("|", 1)[1].strip() == d]
        if ids:
            subprocess.run(["scancel"] + ids, stderr=subprocess.DEVNULL)
        log("    %-40s over %d s (killed)" % ("snakemake --slurm", limit))
        return {"skipped": "over %d s (killed)" % limit, "argv": argv}
    dt = time.perf_counter() - t0
    if rc != 0:
        log("    %-40s exit status %d" % ("snakemake --slurm", rc))
        return {"skipped": "exit status %d" % rc, "argv": argv}
    log("    %-40s %.2f s (n=1)" % ("snakemake --slurm", dt))
    return {"time_s": dt, "argv": argv,
            "report": file_text(os.path.join(d, "report", "result.txt"))}


def markdown(r):
    """The SLURM section of latest.md."""
    md = ["", "## On a SLURM cluster", ""]
    if not r or r.get("skipped"):
        md.append("Skipped: %s." % (r or {}).get("skipped", "not run"))
        return md
    md.append("Cluster: %s (tests/slurm/up.sh: one node, jobs start on SLURM's 1 s "
              "scheduler tick)." % r["cluster"])
    md.append("")
    md.append("| case | tasks | study --executor slurm (s) | plain sbatch loop (s) | "
              "overhead (study / loop) | snakemake --slurm (s) |")
    md.append("|---|---|---|---|---|---|")
    for c in r["cases"]:
        smk = c.get("snakemake") or {}
        md.append("| %s | %d | %s | %s | %s | %s |" % (
            c["case"], c["tasks"],
            "%.2f" % c["study_median_s"] if c.get("study_median_s") else c.get("study_skipped", "-"),
            "%.2f" % c["loop_median_s"] if c.get("loop_median_s") else c.get("loop_skipped", "-"),
            "%.2fx" % c["overhead_ratio"] if c.get("overhead_ratio") else "-",
            "%.1f" % smk["time_s"] if smk.get("time_s") else smk.get("skipped", "-")))
    md.append("")
    for c in r["cases"]:
        if "same_result" in c:
            md.append("- %s: the loop's report is the study's: %s" % (
                c["case"], "yes" if c["same_result"] else "NO"))
        smk = c.get("snakemake") or {}
        if "same_report" in smk:
            md.append("- %s: Snakemake's report is the study's: %s" % (
                c["case"], "yes" if smk["same_report"] else "NO"))
    return md
