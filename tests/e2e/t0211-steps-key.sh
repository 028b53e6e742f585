#!/bin/sh
# End to end: the cache key of a multi-step stage holds every step
# (docs/study-format.md, "Multi-step stages"): editing an argument or the
# program of step 2, or a script that only a later step names, reruns the
# stage and nothing else. A one-step stage keeps the record it had before
# steps existed (rebuilt here by hand and hashed with sha256sum), whether
# `run` is written as one list or as a list holding that list.
. "$(dirname "$0")/lib.sh"
R="$TMP/root"
mkdir -p "$R/bin" "$R/scripts"
cp "$TOP/stages/bin/toystage" "$R/bin/toystage"
printf '#!/bin/sh\nmkdir -p "$2" && echo "$1" >"$2/v.txt"\n' >"$R/bin/write.sh"
printf '#!/bin/sh\necho one >>"$1/v.txt"\n' >"$R/scripts/last.sh"
chmod +x "$R/bin/write.sh"
study() { # study STEP2-ARG
	cat >"$R/s.yaml" <<YAML
study: steps-key
seed: 3
root: $R
data:
  one: {run: [bin/write.sh, one, "\${out}"]}
  nested: {run: [[bin/write.sh, one, "\${out}"]]}
  three:
    run:
      - [bin/write.sh, first, mid]
      - [bin/write.sh, "$1", "\${out}"]
      - [sh, "\${root}/scripts/last.sh", "\${out}"]
YAML
}
run() { "$STUDY" run "$R/s.yaml" --store "$R/st" -v >"$TMP/out" 2>"$TMP/err"; }
q() { sqlite3 "$R/st/provenance.db" "$1"; }
study second
run
check_eq "first run" "$(cat "$TMP/out")" "run 1: ran 3, cached 0, failed 0"

# the record of a one-step stage, written out by hand
w=$(sha256sum "$R/bin/write.sh" | cut -d' ' -f1)
for id in one nested; do
	want=$(printf '{"argv":["bin/write.sh","one","${out}"],"code":{"bin/write.sh":"%s"},"env":{},"inputs":{},"params":{},"protocol":1,"seed":"3","stage":"data/%s"}' \
		"$w" "$id")
	check_eq "data/$id: the one-step record, as before steps existed" \
		"$(q "SELECT cache_record FROM executions WHERE stage_id = 'data/$id'")" "$want"
	check_eq "data/$id: the key is its SHA-256" \
		"$(q "SELECT cache_key FROM executions WHERE stage_id = 'data/$id'")" \
		"$(printf '%s' "$want" | sha256sum | cut -d' ' -f1)"
done
l=$(sha256sum "$R/scripts/last.sh" | cut -d' ' -f1)
check_eq "data/three: argv holds each step's, code each step's program and script" \
	"$(q "SELECT json_extract(cache_record, '\$.argv') || ' ' || json_extract(cache_record, '\$.code')
		FROM executions WHERE stage_id = 'data/three'")" \
	"[[\"bin/write.sh\",\"first\",\"mid\"],[\"bin/write.sh\",\"second\",\"\${out}\"],[\"sh\",\"\${root}/scripts/last.sh\",\"\${out}\"]] {\"bin/write.sh\":\"$w\",\"scripts/last.sh\":\"$l\"}"
tree=$(q "SELECT output_digest FROM executions WHERE stage_id = 'data/three'")
check_eq "the steps ran in order into one \${out}" "$(cat "$R/st/out/$tree/v.txt")" "second
one"

study SECOND
"$STUDY" status "$R/s.yaml" --store "$R/st" >"$TMP/status"
check "an edited argument of step 2: the stage will run, argv changed" \
	grep -q '^will run    data/three  *changed: argv$' "$TMP/status"
run
check_eq "... and only that stage runs" "$(cat "$TMP/out")" "run 2: ran 1, cached 2, failed 0"

printf '\n# edited\n' >>"$R/scripts/last.sh"
"$STUDY" status "$R/s.yaml" --store "$R/st" >"$TMP/status"
check "an edited script named only by step 3: code changed" \
	grep -q '^will run    data/three  *changed: code$' "$TMP/status"
run
check_eq "... and only that stage runs" "$(cat "$TMP/out")" "run 3: ran 1, cached 2, failed 0"

# a program used by step 2 only: the one-step stages do not use it
printf '#!/bin/sh\nmkdir -p "$2" && echo "$1" >"$2/v.txt"\n' >"$R/bin/two.sh"
chmod +x "$R/bin/two.sh"
sed -i 's|- \[bin/write.sh, "SECOND"|- [bin/two.sh, "SECOND"|; s|- \[bin/write.sh, SECOND|- [bin/two.sh, SECOND|' \
	"$R/s.yaml"
run
check "step 2's program replaced: the stage runs" grep -q 'ran     data/three' "$TMP/err"
printf '# edited\n' >>"$R/bin/two.sh"
"$STUDY" status "$R/s.yaml" --store "$R/st" >"$TMP/status"
check "an edited program of step 2: code changed" \
	grep -q '^will run    data/three  *changed: code$' "$TMP/status"
check_eq "... and nothing else will run" "$(tail -n 1 "$TMP/status")" \
	"2 of 3 stages up to date, 1 will run"
done_testing
