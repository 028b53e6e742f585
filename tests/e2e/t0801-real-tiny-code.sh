#!/bin/sh
# studies/real-tiny.yaml lists under code: exactly the llmkit modules each
# Python stage imports (the closure of its imports, read from the sources),
# so that editing a module reruns every stage that runs it and nothing else.
. "$(dirname "$0")/lib.sh"
cd "$TMP" || exit 1
/usr/bin/python3 - "$TOP" >code.out 2>&1 <<'PY'
import ast, os, sys
import yaml
top = sys.argv[1]
kit = os.path.join(top, "stages", "llm")
def closure(path, seen):
    for n in ast.walk(ast.parse(open(path).read())):
        mods = []
        if isinstance(n, ast.ImportFrom):
            if n.level == 1:
                mods = ["llmkit." + n.module] if n.module else ["llmkit." + a.name for a in n.names]
            elif n.module and n.module.split(".")[0] == "llmkit":
                mods = [n.module] + [n.module + "." + a.name for a in n.names]
        elif isinstance(n, ast.Import):
            mods = [a.name for a in n.names if a.name.split(".")[0] == "llmkit"]
        for m in mods:
            p = os.path.join(kit, *m.split(".")) + ".py"
            rel = os.path.relpath(p, top)
            if os.path.exists(p) and rel not in seen:
                seen.add(rel)
                closure(p, seen)
    return seen
study = yaml.safe_load(open(os.path.join(top, "studies", "real-tiny.yaml")))
entries = [("data", k, v) for k, v in study["data"].items()]
for sec in ("models", "methods", "evaluations"):
    d = study[sec].get("defaults", {})
    entries += [(sec, k, {**d, **v}) for k, v in study[sec].items() if k != "defaults"]
fails = 0
for sec, name, e in entries:
    run = e["run"]
    if run[0] != "python3":
        continue
    script = run[1].replace("${root}/", "")
    want = closure(os.path.join(top, script), {"stages/llm/llmkit/__init__.py"})
    got = set(e.get("code", []))
    good = got == want
    fails += not good
    print(("ok - " if good else "not ok - ") + f"{sec} {name}: code: is the import closure of {script}")
    if not good:
        print(f"#   missing {sorted(want - got)} extra {sorted(got - want)}")
sys.exit(1 if fails else 0)
PY
rc=$?
cat code.out
check_eq "every Python stage's code: list is its import closure" "$rc" 0
done_testing
