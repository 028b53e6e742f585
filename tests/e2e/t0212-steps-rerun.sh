#!/bin/sh
# End to end: `study verify --rerun` replays every step of a multi-step
# stage from its provenance record and gets the same output, at the
# recorded work directory and at a scratch path (a moved store); a step that
# fails on replay is named.
. "$(dirname "$0")/lib.sh"
R="$TMP/root"
mkdir -p "$R/bin"
cp "$TOP/stages/bin/toystage" "$R/bin/toystage"
printf '#!/bin/sh\ncat "$1"/model.txt >"$2"/copy.txt\n' >"$R/bin/copy.sh"
chmod +x "$R/bin/copy.sh"
cat >"$R/s.yaml" <<YAML
study: steps-rerun
root: $R
data:
  corpus: {run: [bin/toystage, gen, --seed, "1", --n, "8", --out, "\${out}"]}
models:
  m:
    run:
      - [mkdir, mid]
      - [bin/toystage, train, --data, "\${data.corpus}", --size, "4", --out, mid]
      - [bin/toystage, transform, --model, mid, --factor, "2", --out, "\${out}"]
      - [bin/copy.sh, mid, "\${out}"]
YAML
"$STUDY" run "$R/s.yaml" --store "$R/st" >"$TMP/out" 2>&1
check_eq "the study runs" "$(tail -n 1 "$TMP/out")" "run 1: ran 2, cached 0, failed 0"

out=$("$STUDY" verify --rerun model/m --store "$R/st"); rc=$?
check_eq "the multi-step stage reruns identical at its recorded path (exit 0)" "$rc" 0
check "... and says so" sh -c "echo \"\$1\" | grep -q '^rerun: identical  *model/m '" - "$out"

mv "$R/st" "$TMP/moved"
out=$("$STUDY" verify --rerun --store "$TMP/moved"); rc=$?
check_eq "a moved store: every stage reruns identical at a scratch path" "$rc" 0
check_eq "... the summary" "$(echo "$out" | tail -n 1)" "rerun: 2 identical, 0 different, 0 failed"

# the program of step 4 now fails: the replay names the step
printf '#!/bin/sh\necho copy broke >&2\nexit 4\n' >"$R/bin/copy.sh"
out=$("$STUDY" verify --rerun model/m --store "$TMP/moved"); rc=$?
check_eq "a step that fails on replay: exit 1" "$rc" 1
check "... the failure names the step and its stderr" sh -c "echo \"\$1\" |
	grep -q '^rerun: failed  *model/m (execution [0-9]*, run 1): step 4 of 4 (copy.sh mid): exit status 4: copy broke'" \
	- "$out"
done_testing
