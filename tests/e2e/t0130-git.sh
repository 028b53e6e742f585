#!/bin/sh
# End to end: the run records the git commit, branch and dirty flag of the
# repository that holds the study (libgit2), visible through `study log`.
. "$(dirname "$0")/lib.sh"
R="$TMP/repo"
mkdir -p "$R"
cd "$R" || exit 1
git init -q -b trunk . && git config user.email t@example.com && git config user.name t
cat >study.yaml <<YAML
study: in-git
data:
  corpus: {run: [$TOP/stages/bin/toystage, gen, --seed, "1", --n, "4", --out, "\${out}"]}
YAML
echo "store/" >.gitignore
git add study.yaml .gitignore && git commit -q -m init
head=$(git rev-parse HEAD)
"$STUDY" run study.yaml --store "$R/store" >/dev/null 2>&1
check_eq "run in a clean repo succeeds" "$?" 0
log=$("$STUDY" log --store "$R/store" --json)
check "log --json records git_commit = git rev-parse HEAD" json_has "$log" git_commit "\"$head\""
check "log --json records the branch" json_has "$log" git_branch '"trunk"'
check "log --json records a clean tree" json_has "$log" git_dirty false

echo "# changed" >>study.yaml
"$STUDY" run study.yaml --store "$R/store" >/dev/null 2>&1
check_eq "a run of the edited study succeeds" "$?" 0
log=$("$STUDY" log --store "$R/store" --json -n 1)
check "an edited study is recorded as dirty" json_has "$log" git_dirty true
check "the newest run comes first" json_has "$log" id 2

# the git state is read in a thread, but is on record before a stage starts
git commit -q -am edit
head=$(git rev-parse HEAD)
cat >>study.yaml <<YAML
  slow: {run: [$TOP/stages/bin/toystage, sleep, --seconds, "3", --out, "\${out}"]}
YAML
git commit -q -am slow
head=$(git rev-parse HEAD)
"$STUDY" run study.yaml --store "$R/store" >/dev/null 2>&1 &
pid=$!
seen=
for _ in $(seq 1 50); do
	seen=$(sqlite3 "$R/store/provenance.db" "SELECT git_commit FROM runs r
		WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM executions
		WHERE run_id = r.id AND stage_id = 'data/slow')" 2>/dev/null)
	[ -n "$seen" ] && break
	sleep 0.1
done
wait "$pid"
check_eq "while its stage runs, the run row already holds the commit" "$seen" "$head"
"$STUDY" run study.yaml --store "$R/store" >/dev/null 2>&1
check_eq "the no-op run succeeds" "$?" 0
log=$("$STUDY" log --store "$R/store" --json -n 1)
check "a no-op run records the commit" json_has "$log" git_commit "\"$head\""
check "... and the clean tree" json_has "$log" git_dirty false
done_testing
