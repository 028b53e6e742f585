#!/bin/sh
# Regression (issue 11, kind 3): one notion of "fresh" behind `run`,
# `run --dry-run` and `status` (pipeline/freshness.c), and every reason
# printed is the true one.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
copy_study "$TOP/studies/example.yaml" "$TMP/ex.yaml"
st() { "$STUDY" status "$TMP/ex.yaml" --store "$S"; }
dry() { "$STUDY" run "$TMP/ex.yaml" --store "$S" --dry-run 2>/dev/null; }
run() { "$STUDY" run "$TMP/ex.yaml" --store "$S" 2>/dev/null | sed 's/^run [0-9]*: /run: /'; }
run >/dev/null

# 1. out/ may be deleted at any time (docs/store.md): all three agree
rm -rf "$S/out"
check_eq "without out/: status" "$(st | tail -1)" "26 of 26 stages up to date, 0 will run"
check_eq "without out/: dry run" "$(dry)" "dry run: would run 0, cached 26, failed 0"
check_eq "without out/: run" "$(run)" "run: ran 0, cached 26, failed 0"

# 2. one cache link removed: the stage runs; what depends on it is reused
key=$(sqlite3 "$S/provenance.db" "SELECT cache_key FROM executions
	WHERE stage_id = 'model/small' AND status = 'ran'")
out=$(sqlite3 "$S/provenance.db" "SELECT output_digest FROM executions
	WHERE stage_id = 'model/small' AND status = 'ran'")
rm "$S/cache/$(echo "$key" | cut -c1-2)/$key"
short=$(echo "$out" | cut -c1-12)
check_eq "lost cache link: status names the true reason" \
	"$(st | grep 'model/small ' | tr -s ' ')" \
	"will run model/small cache entry missing (its recorded output is sha256:$short)"
check_eq "lost cache link: a downstream stage is up to date if the stage reproduces" \
	"$(st | grep 'method/halve/small ' | sed 's/  */ /g; s/ [0-9a-f]\{12\} / HEX /')" \
	"up to date method/halve/small HEX (if 'model/small' reproduces its recorded output)"
check_eq "lost cache link: status summary" "$(st | tail -1)" "25 of 26 stages up to date, 1 will run"
check_eq "lost cache link: dry run" "$(dry)" "dry run: would run 1, cached 25, failed 0"
check_eq "lost cache link: run" "$(run)" "run: ran 1, cached 25, failed 0"

# 3. a damaged materialised output: status and dry run say so, the run reruns it
f=$(ls "$S"/out/"$out"/* | head -1)
chmod u+w "$f"; printf 'x' >>"$f"
check "damaged output: status says what is wrong" \
	sh -c "'$STUDY' status '$TMP/ex.yaml' --store '$S' | grep 'model/small ' |
		grep -q \"will run .*cached output damaged: file '$f' does not match its recorded digest\""
check_eq "damaged output: dry run" "$(dry)" "dry run: would run 1, cached 25, failed 0"
check_eq "damaged output: run" "$(run)" "run: ran 1, cached 25, failed 0"

# 4. after a failed run, status gives the failure, not "output missing"
cat >"$TMP/f.yaml" <<YAML
study: failing
root: $TOP
data:
  bad: {run: [stages/bin/toystage, fail, --code, "7"]}
YAML
"$STUDY" run "$TMP/f.yaml" --store "$S" >/dev/null 2>&1
check_eq "the run with a failing stage exits 1" "$?" 1
check_eq "after a failure: status says it failed and how" \
	"$("$STUDY" status "$TMP/f.yaml" --store "$S" | head -1 | tr -s ' ')" \
	"will run data/bad failed last time: exit status 7"
"$STUDY" status "$TMP/f.yaml" --store "$S" --json >"$TMP/j"
check "status --json carries the same reason" grep -q '"reason":"failed last time: exit status 7"' "$TMP/j"

# 5. no provenance database: the reason is still said
rm -f "$S"/provenance.db*
check_eq "no provenance: the reason says so" \
	"$("$STUDY" status "$TMP/f.yaml" --store "$S" | head -1 | tr -s ' ')" \
	"will run data/bad never run (no provenance in this store)"

# 6. trees/ deleted: missing, not damaged
rm -rf "$S/trees"
check "no manifests: the output is missing from the store" \
	sh -c "'$STUDY' status '$TMP/ex.yaml' --store '$S' | grep -q '^will run    data/corpus  *output sha256:[0-9a-f]\{12\} missing from the store\$'"
done_testing
