#!/bin/sh
# End to end: `show --lineage` walks a metric back to the data, `export
# --format prov-json` covers every execution and artifact of a run, and
# `run --require-clean` refuses a dirty or missing git work tree.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
copy_study studies/example.yaml "$TMP/example.yaml"
S="$TMP/store"
st=0
for i in 1 2; do "$STUDY" run "$TMP/example.yaml" --store "$S" >/dev/null 2>&1 || st=$?; done
check_eq "the example study runs twice" "$st" 0

out=$("$STUDY" show eval/drift/large/halve:shift --lineage --store "$S"); rc=$?
check_eq "lineage of a metric: exit 0" "$rc" 0
check "lineage: the metric and its value come first" \
	sh -c "echo \"\$1\" | head -n 1 | grep -q '^eval/drift/large/halve:shift = '" - "$out"
for s in "eval/drift/large/halve (execution" "method/halve/large (execution" \
	 "model/large (execution" "data/corpus (execution"; do
	check "lineage reaches $s" sh -c "echo \"\$1\" | grep -qF \"\$2\"" - "$out" "$s"
done
check "lineage shows commands" sh -c "echo \"\$1\" | grep -q 'command  .*toystage train --data'" - "$out"
check "lineage shows output digests" sh -c "echo \"\$1\" | grep -qE 'output   [0-9a-f]{64}'" - "$out"
check "lineage shows times" sh -c "echo \"\$1\" | grep -qE 'time     20[0-9-]{8}T'" - "$out"
check "a node shown twice is 'see above'" sh -c "echo \"\$1\" | grep -q 'model.base = .*see above'" - "$out"
js=$("$STUDY" show eval/drift/large/halve:shift --lineage --json --store "$S"); rc=$?
check_eq "lineage --json: exit 0" "$rc" 0
check "lineage --json has the metric" json_has "$js" name '"shift"'
check "lineage --json reaches the data stage" json_has "$js" stage '"data/corpus"'
check "lineage --json has commands" json_has "$js" command '\['
out=$("$STUDY" show report --lineage --store "$S"); rc=$?
check_eq "lineage of a stage (the report): exit 0" "$rc" 0
check_eq "the report's lineage names all 16 evaluations" \
	"$(echo "$out" | grep -c '^    input    evaluations')" 16
"$STUDY" show accuracy --lineage --store "$S" >/dev/null 2>"$TMP/err"; rc=$?
check_eq "an ambiguous bare metric: exit 2" "$rc" 2
check_eq "an ambiguous bare metric: message" "$(cat "$TMP/err")" \
	"study: error: metric 'accuracy' is recorded by 8 stages; qualify it as STAGE-ID:accuracy"
"$STUDY" show model/small:nope --lineage --store "$S" >/dev/null 2>"$TMP/err"; rc=$?
check_eq "an unknown metric: exit 2" "$rc" 2
check_eq "an unknown metric: message" "$(cat "$TMP/err")" \
	"study: error: no metric 'nope' recorded for stage 'model/small'"

# PROV-JSON
out=$("$STUDY" export --format prov-json 1 --store "$S"); rc=$?
check_eq "export run 1: exit 0" "$rc" 0
for k in prefix entity activity agent used wasGeneratedBy wasDerivedFrom wasAssociatedWith; do
	check "export has '$k'" json_has "$out" "$k" '\{'
done
n=$(echo "$out" | grep -cE '^		"study:execution/[0-9]+":')
check_eq "export: one activity per execution of run 1" "$n" \
	"$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM executions WHERE run_id = 1")"
missing=0
for d in $(sqlite3 "$S/provenance.db" "SELECT DISTINCT output_digest FROM executions WHERE run_id = 1"); do
	echo "$out" | grep -q "^		\"sha256:$d\":" || missing=$((missing + 1))
done
check_eq "export: an entity for every artifact of run 1" "$missing" 0
out2=$("$STUDY" export latest --store "$S"); rc=$?
check_eq "export latest: exit 0" "$rc" 0
check "export of a cached run names the producing execution" \
	sh -c "echo \"\$1\" | grep -q '\"study:producedBy\":	\"study:execution/1\"'" - "$out2"
"$STUDY" export 99 --store "$S" >/dev/null 2>"$TMP/err"; rc=$?
check_eq "export of an unknown run: exit 2" "$rc" 2
check_eq "export of an unknown run: message" "$(cat "$TMP/err")" "study: error: no run 99 recorded"
"$STUDY" export --format xml 1 --store "$S" >/dev/null 2>"$TMP/err"; rc=$?
check_eq "unknown export format: exit 2" "$rc" 2

# --require-clean
R="$TMP/repo"
mkdir -p "$R" && cd "$R" || exit 1
git init -q -b trunk . && git config user.email t@example.com && git config user.name t
cat >study.yaml <<YAML
study: in-git
data:
  corpus: {run: [$TOP/stages/bin/toystage, gen, --seed, "1", --n, "4", --out, "\${out}"]}
YAML
echo "store/" >.gitignore
git add study.yaml .gitignore && git commit -q -m init
"$STUDY" run study.yaml --store "$R/store" --require-clean >/dev/null 2>&1; rc=$?
check_eq "--require-clean in a clean tree: runs" "$rc" 0
out=$("$STUDY" verify --store "$R/store"); rc=$?
check_eq "verify checks the recorded commit: exit 0" "$rc" 0
echo "# changed" >>study.yaml
"$STUDY" run study.yaml --store "$R/store" --require-clean >/dev/null 2>"$TMP/err"; rc=$?
check_eq "--require-clean in a dirty tree: exit 2" "$rc" 2
check_eq "--require-clean in a dirty tree: message" "$(cat "$TMP/err")" \
	"study: error: the work tree of '$R' has uncommitted changes; commit them or drop --require-clean"
check_eq "--require-clean: nothing recorded" \
	"$(sqlite3 "$R/store/provenance.db" "SELECT count(*) FROM runs")" 1
"$STUDY" run study.yaml --store "$R/store" >/dev/null 2>&1
out=$("$STUDY" verify --store "$R/store"); rc=$?
check_eq "a dirty run with a changed study file is a note, not a problem" "$rc" 0
check "the note says the tree was dirty" sh -c "echo \"\$1\" | grep -q \"verify: note: run 2 was made from a dirty work tree: its study file 'study.yaml' differs from commit\"" - "$out"
git commit -q --amend -a -m amended && git reflog expire --expire=now --all && git gc -q --prune=now
out=$("$STUDY" verify --store "$R/store"); rc=$?
check_eq "a recorded commit that is gone: exit 1" "$rc" 1
check "a recorded commit that is gone: named" sh -c "echo \"\$1\" | grep -q '^verify: run 1: commit [0-9a-f]* is not in repository'" - "$out"
"$STUDY" verify --store "$R/store" --no-git >/dev/null; rc=$?
check_eq "--no-git skips the commit checks" "$rc" 0
cp study.yaml "$TMP/loose.yaml"
"$STUDY" run "$TMP/loose.yaml" --store "$TMP/s2" --require-clean >/dev/null 2>"$TMP/err"; rc=$?
check_eq "--require-clean outside a repository: exit 2" "$rc" 2
check_eq "--require-clean outside a repository: message" "$(cat "$TMP/err")" \
	"study: error: '$TMP/loose.yaml' is not in a git repository; --require-clean needs a committed study"
done_testing
