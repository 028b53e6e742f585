#!/bin/sh
# End to end: a multi-step stage (`run` as a list of commands,
# docs/study-format.md "Multi-step stages") runs its steps in order, without
# a shell, in one working directory with one ${out}; a failing step fails the
# stage with a reason naming it, and the steps after it never run;
# resources.time covers the whole stage; provenance records every step's
# argv and `show` prints them; a later step's load-time warning points at it.
. "$(dirname "$0")/lib.sh"
R="$TMP/root"
mkdir -p "$R/bin"
cp "$TOP/stages/bin/toystage" "$R/bin/toystage"
cat >"$R/s.yaml" <<YAML
study: steps
root: $R
data:
  corpus: {run: [bin/toystage, gen, --seed, "1", --n, "8", --out, "\${out}"]}
models:
  two:
    run:
      - [mkdir, mid]
      - [bin/toystage, train, --data, "\${data.corpus}", --size, "4", --out, mid]
      - [bin/toystage, transform, --model, mid, --factor, "2", --out, "\${out}"]
  bad:
    run:
      - [sh, -c, "echo step1-ran"]
      - [bin/toystage, fail, --code, "3"]
      - [sh, -c, "echo step3-ran; mkdir -p \"\$STUDY_OUT\"/x"]
YAML
"$STUDY" run "$R/s.yaml" --store "$R/st" --keep-going >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "a study with a failing multi-step stage exits 1" "$rc" 1
check_eq "the summary counts each multi-step stage once" "$(cat "$TMP/out")" \
	"run 1: ran 2, cached 0, failed 1"
check "the failure names the step, its program and first argument as written" \
	grep -q 'failed  model/bad ([0-9.]*s): step 2 of 3 (bin/toystage fail) exited with status 3$' \
	"$TMP/err"
check "the failing step's stderr is shown" grep -q '| toystage: failing on purpose' "$TMP/err"
check "the step before it ran (its stdout is the stage's)" grep -q '| step1-ran' "$TMP/err"
check "the step after it never ran" sh -c "! grep -q step3-ran '$TMP/err'"

q() { sqlite3 "$R/st/provenance.db" "$1"; }
check_eq "provenance: the reason" \
	"$(q "SELECT reason FROM executions WHERE stage_id = 'model/bad'")" \
	"step 2 of 3 (bin/toystage fail) exited with status 3"
check_eq "provenance: the failing step's exit status" \
	"$(q "SELECT exit_code FROM executions WHERE stage_id = 'model/bad'")" 3

# the three steps of model/two shared the working directory (mid) and ${out}
tree=$(q "SELECT output_digest FROM executions WHERE stage_id = 'model/two'")
check "the last step wrote the stage's output from what the first two left in its directory" \
	test -s "$R/st/out/$tree/model.txt"
mkdir -p "$TMP/by-hand/mid" && (cd "$TMP/by-hand" &&
	"$R/bin/toystage" train --data "$R/st/out/$(q "SELECT output_digest FROM executions
		WHERE stage_id = 'data/corpus'")" --size 4 --out mid >/dev/null &&
	mkdir out && "$R/bin/toystage" transform --model mid --factor 2 --out out >/dev/null)
check "... the same bytes as the steps run by hand" cmp "$TMP/by-hand/out/model.txt" \
	"$R/st/out/$tree/model.txt"
check_eq "provenance: argv is an array of each step's argv" \
	"$(q "SELECT json_array_length(argv_json) || ' ' || json_extract(argv_json, '\$[0][1]') || ' '
		|| json_extract(argv_json, '\$[2][1]') FROM executions WHERE stage_id = 'model/two'")" \
	"3 mid transform"
check_eq "provenance: a one-step stage's argv is a flat array, as before" \
	"$(q "SELECT json_extract(argv_json, '\$[1]') FROM executions WHERE stage_id = 'data/corpus'")" \
	"gen"
"$STUDY" show model/two --store "$R/st" >"$TMP/show"
check "show prints each step's argv under its number" sh -c \
	"sed -n '/^argv/,/^env/p' '$TMP/show' | grep -q '^  step 2\$' &&
	 sed -n '/^argv/,/^env/p' '$TMP/show' | grep -q '^    train\$'"

"$STUDY" run "$R/s.yaml" --store "$R/st" >"$TMP/out" 2>&1
check "a second run: the two-step stage is cached" grep -q 'run 2: ran 0, cached 2, failed 1' \
	"$TMP/out"

# resources.time is the whole stage's: each step alone is well under it
cat >"$R/t.yaml" <<YAML
study: steps-time
root: $R
data:
  slow:
    run: [[sleep, "0.6"], [sleep, "0.6"], [sleep, "0.6"], [mkdir, "\${out}/x"]]
    resources: {time: 1}
YAML
"$STUDY" run "$R/t.yaml" --store "$R/st" >"$TMP/out" 2>"$TMP/err"
check "the time limit covers all steps, and names the step it stopped" \
	grep -q 'failed  data/slow ([0-9.]*s): timed out after 1s (resources.time), killed in step [23] of 4 (sleep 0.6)$' \
	"$TMP/err"

# a load-time warning for a later step points at that step's program
cat >"$R/w.yaml" <<YAML
study: steps-warn
root: $R
data:
  w:
    run:
      - [bin/toystage, gen, --seed, "1", --n, "8", --out, "\${out}"]
      - [sh, ./later.sh]
YAML
"$STUDY" dag "$R/w.yaml" >/dev/null 2>"$TMP/err"
check_eq "the warning names step 2's position and script" "$(cat "$TMP/err")" \
	"study: warning: $R/w.yaml:7:10: 'sh' runs './later.sh', which is looked up when the stage runs and is not in its cache key: a change to it will not rerun the stage; name it as \"\${root}/...\" or list it under code:"
done_testing
