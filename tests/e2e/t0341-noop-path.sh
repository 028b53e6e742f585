#!/bin/sh
# End to end: what the no-op path was trimmed of keeps working (issue 15).
# libgit2 is loaded only when a git state is read (not linked: `--help`
# starts without it) and a run still records the commit; the CA bundle that
# libgit2 would parse for HTTPS is not opened (checked when strace exists);
# the writer lock holds exactly the holder's pid after a longer one; the
# stat records of cached trees written by one run are the ones the next run
# reads (a rerun rewrites none), and a record that no longer matches sends
# the tree to the full check, which passes and writes it again.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage

check "the study program does not link libgit2" sh -c "! ldd '$STUDY' | grep -q libgit2"
check "... nor loads it for --help" sh -c "LD_DEBUG=libs '$STUDY' --help 2>&1 >/dev/null |
	grep -q 'init: /lib' && ! LD_DEBUG=libs '$STUDY' --help 2>&1 >/dev/null | grep -q libgit2"

# a study in a repository of its own, committed
R="$TMP/repo"
mkdir -p "$R"
git -C "$R" init -q
git -C "$R" config user.email t@example.org
git -C "$R" config user.name t
cat >"$R/s.yaml" <<YAML
study: noop
root: $TOP
data:
  a: {run: [$TOY, gen, --seed, "1", --n, "4", --out, "\${out}"]}
  b: {run: [$TOY, gen, --seed, "2", --n, "4", --out, "\${out}"]}
YAML
git -C "$R" add s.yaml
git -C "$R" commit -q -m study
HEAD=$(git -C "$R" rev-parse HEAD)
S="$TMP/store"
mkdir -p "$S"
"$STUDY" run "$R/s.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "first run" "$(cat "$TMP/out")" "run 1: ran 2, cached 0, failed 0"
check_eq "the run records the commit, read through the loaded libgit2" \
	"$(sqlite3 "$S/provenance.db" "SELECT git_commit || ' ' || git_dirty FROM runs WHERE id = 1")" \
	"$HEAD 0"
check "no warning about the git state" sh -c "! grep -q 'git' '$TMP/err'"

if command -v strace >/dev/null 2>&1; then
	strace -f -e trace=open,openat -o "$TMP/trace" "$STUDY" run "$R/s.yaml" --store "$S" \
		>/dev/null 2>&1
	check "libgit2 is loaded by a run" grep -q 'libgit2' "$TMP/trace"
	check "... and no CA certificate is read" sh -c "! grep -q '/etc/ssl' '$TMP/trace'"
else
	ok "libgit2 is loaded by a run # skip no strace"
	ok "... and no CA certificate is read # skip no strace"
fi

# the lock: a longer pid before, exactly this run's after
printf '123456789012345\n' >"$S/lock"
"$STUDY" run "$R/s.yaml" --store "$S" --json >"$TMP/out" 2>"$TMP/err"
check "the lock holds one pid, nothing left of a longer one" \
	sh -c "grep -qxE '[0-9]+' '$S/lock' && [ \$(wc -l <'$S/lock') -eq 1 ] &&
	       [ \$(wc -c <'$S/lock') -lt 16 ]"

# stat records: read back as written
ls -li --time-style=full-iso "$S/stat" >"$TMP/stat1"
"$STUDY" run "$R/s.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"
ls -li --time-style=full-iso "$S/stat" >"$TMP/stat2"
check_eq "a rerun" "$(cat "$TMP/out")" "run 4: ran 0, cached 2, failed 0"
check "... reads the stat records and rewrites none" cmp -s "$TMP/stat1" "$TMP/stat2"
tree=$(sqlite3 "$S/provenance.db" "SELECT output_digest FROM executions WHERE stage_id = 'data/a'
	AND status = 'ran'")
chmod u+w "$S/out/$tree"
touch -d '2001-01-01 00:00:00' "$S/out/$tree"/*
chmod 0555 "$S/out/$tree"
rec1=$(cat "$S/stat/$tree")
"$STUDY" run "$R/s.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "a changed mtime: the full check passes" "$(cat "$TMP/out")" \
	"run 5: ran 0, cached 2, failed 0"
check "... and the record is written again, with the new time" \
	sh -c "[ \"\$(cat '$S/stat/$tree')\" != '$rec1' ] && grep -q ' 978307200\\.000000000 ' '$S/stat/$tree'"
done_testing
