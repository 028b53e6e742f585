#!/bin/sh
# Regression (issue 11, kind 8): the commit recorded is the commit of the
# files that ran. The study file, its root and the default store are resolved
# through symbolic links and from any current directory; the default store is
# <study root>/artifacts (found upwards, as git finds .git, by the commands
# that take no study); the tool's own store never makes the tree dirty.
. "$(dirname "$0")/lib.sh"
mkrepo() { # mkrepo DIR: a repository with studies/s.yaml and docs/, committed
	mkdir -p "$1/studies" "$1/docs"
	(cd "$1" && git init -q -b main . && git config user.email t@example.com &&
		git config user.name t)
	cat >"$1/studies/s.yaml" <<YAML
study: paths
data:
  a: {run: [$TOP/stages/bin/toystage, gen, --seed, "1", --n, "4", --out, "\${out}"]}
YAML
	echo "notes" >"$1/docs/readme.txt"
	(cd "$1" && git add -A && git commit -q -m init)
}
field() { sed -n "s/.*\"$1\":[[:space:]]*\"\{0,1\}\([^\",]*\)\"\{0,1\}.*/\1/p" | head -1; }

# 1. from a subdirectory, with no .gitignore for the store: one store, at the root
A="$TMP/a"
mkrepo "$A"
(cd "$A/docs" && "$STUDY" run ../studies/s.yaml --require-clean >"$TMP/out" 2>"$TMP/err")
check_eq "a run from a subdirectory succeeds" "$(cat "$TMP/out")" "run 1: ran 1, cached 0, failed 0"
check "its store is <root>/artifacts" test -f "$A/artifacts/provenance.db"
check "no second store in the subdirectory" test ! -e "$A/docs/artifacts"
(cd "$A/docs" && "$STUDY" run ../studies/s.yaml --require-clean >"$TMP/out" 2>"$TMP/err")
check_eq "--require-clean is not blocked by the tool's own store" "$(cat "$TMP/out")" \
	"run 2: ran 0, cached 1, failed 0"
(cd "$A" && "$STUDY" run studies/s.yaml >"$TMP/out" 2>&1)
check_eq "from the root: the same store" "$(cat "$TMP/out")" "run 3: ran 0, cached 1, failed 0"
log=$(cd "$A/docs" && "$STUDY" log --json -n 1)
check_eq "log from a subdirectory finds the store upwards" "$(echo "$log" | field id)" 3
check_eq "the run is recorded clean" "$(echo "$log" | field git_dirty)" false
check_eq "with the commit of the repository" "$(echo "$log" | field git_commit)" \
	"$(git -C "$A" rev-parse HEAD)"
(cd "$A/docs" && "$STUDY" status ../studies/s.yaml >"$TMP/out")
check_eq "status from a subdirectory reads the same store" "$(tail -1 "$TMP/out")" \
	"1 of 1 stages up to date, 0 will run"
echo "change" >>"$A/docs/readme.txt"
(cd "$A/docs" && "$STUDY" run ../studies/s.yaml --require-clean >/dev/null 2>"$TMP/err")
check_eq "a real change still blocks --require-clean" "$?" 2
git -C "$A" checkout -q docs/readme.txt

# 2. the study reached through a symbolic link from another repository
B="$TMP/b"
mkrepo "$B"
ln -s "$A/studies/s.yaml" "$B/linked.yaml"
echo linked.yaml >"$B/.gitignore"
(cd "$B" && git add .gitignore && git commit -q -m ignore)
(cd "$B" && "$STUDY" run linked.yaml >"$TMP/out" 2>"$TMP/err")
check_eq "a run through a link uses the linked study's store" "$(cat "$TMP/out")" \
	"run 4: ran 0, cached 1, failed 0"
check "and makes no store beside the link" test ! -e "$B/artifacts"
log=$("$STUDY" log --store "$A/artifacts" --json -n 1)
check_eq "the commit is that of the repository holding the file that ran" \
	"$(echo "$log" | field git_commit)" "$(git -C "$A" rev-parse HEAD)"
check_eq "verify follows the link to that repository" \
	"$("$STUDY" verify --store "$A/artifacts" >/dev/null 2>&1; echo $?)" 0
check_eq "the run records the real path of the study it ran" \
	"$(echo "$log" | field study_path)" "$(cd "$A/studies" && pwd -P)/s.yaml"
rm "$B/linked.yaml"
check_eq "verify still checks it after the link is gone" \
	"$("$STUDY" verify --store "$A/artifacts" >/dev/null 2>&1; echo $?)" 0

# 3. root: in another repository: --require-clean covers the code that runs
C="$TMP/c"
mkrepo "$C"
D="$TMP/d"
mkdir -p "$D/studies"
(cd "$D" && git init -q -b main . && git config user.email t@example.com && git config user.name t)
cat >"$D/studies/s.yaml" <<'YAML'
study: rooted
root: ../../c
data:
  a: {run: [sh, -c, 'cat "$1" >"$STUDY_OUT/r"', x, "${root}/docs/readme.txt"]}
YAML
echo "artifacts/" >"$D/.gitignore"
(cd "$D" && git add -A && git commit -q -m init)
echo "echo changed" >>"$C/docs/readme.txt"
"$STUDY" run "$D/studies/s.yaml" --require-clean >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "root in a dirty other repository: --require-clean refuses" "$rc" 2
check_eq "... and says which" "$(cat "$TMP/err")" \
	"study: error: the study root '$(cd "$C" && pwd -P)' is in another repository, '$(cd "$C" && pwd -P)', whose work tree has uncommitted changes; commit it or drop --require-clean"
(cd "$C" && git commit -qam change)
"$STUDY" run "$D/studies/s.yaml" --require-clean >"$TMP/out" 2>"$TMP/err"
check_eq "once it is committed the run goes ahead" "$(cat "$TMP/out")" "run 1: ran 1, cached 0, failed 0"
done_testing
