#!/bin/sh
# Issue 11, kind 9: a stage that writes its own paths ($STUDY_OUT, $HOME,
# $TMPDIR, an input path) into its output is reproducible. Each execution runs
# at <store>/work/<cache key>, the same path every time in that store, and
# `verify --rerun` runs it again at exactly that path (holding the writer
# lock): identical. While a run holds the lock the rerun fails and leaves the
# run's work directory alone. In a copy of the store at another path (or one
# this user cannot write) the rerun falls back to a scratch path and says so.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
# scratch directories go here, so that other tests' cannot be mistaken for ours
chmod 755 "$TMP"
mkdir -m 1777 "$TMP/rtmp"
TMPDIR="$TMP/rtmp"; export TMPDIR
cat >"$TMP/s.yaml" <<'YAML'
study: paths
data:
  plain: {run: [/bin/sh, -c, 'echo plain >"$STUDY_OUT/plain.txt"']}
  embed:
    run: [/bin/sh, -c, 'printf "%s\n" "$STUDY_OUT" "$HOME" "$TMPDIR" "$1" >"$STUDY_OUT/paths.txt"',
          embed, "${data.plain}"]
YAML
S="$TMP/store"
sql() { sqlite3 "$1/provenance.db" "$2"; }

out=$("$STUDY" run "$TMP/s.yaml" --store "$S" 2>/dev/null)
check_eq "first run" "$out" "run 1: ran 2, cached 0, failed 0"
key=$(sql "$S" "SELECT cache_key FROM executions WHERE stage_id = 'data/embed' AND status = 'ran'")
pkey=$(sql "$S" "SELECT cache_key FROM executions WHERE stage_id = 'data/plain' AND status = 'ran'")
pout=$(sql "$S" "SELECT output_digest FROM executions WHERE stage_id = 'data/plain' AND status = 'ran'")
R=$(cd "$S" && pwd -P)
first=$(cat "$S"/out/*/paths.txt)
check_eq "the embedded paths are work/<cache key>/{out,cwd,tmp} and the input's out/<digest>" \
	"$first" "$(printf '%s\n' "$R/work/$key/out" "$R/work/$key/cwd" "$R/work/$key/tmp" "$R/out/$pout")"

# again from scratch in the same store: the cache is gone, the bytes are not
chmod -R u+w "$S/out" && rm -rf "$S/cache" "$S/out" "$S/stat"
out=$("$STUDY" run "$TMP/s.yaml" --store "$S" 2>/dev/null)
check_eq "second run after deleting the cache" "$out" "run 2: ran 2, cached 0, failed 0"
check_eq "the second run embeds the same paths" "$(cat "$S"/out/*/paths.txt)" "$first"
check_eq "both runs recorded the same output" \
	"$(sql "$S" "SELECT count(DISTINCT output_digest) FROM executions WHERE stage_id = 'data/embed'")" 1
check_eq "work/ is empty after the runs" "$(ls -A "$S/work")" ""

out=$("$STUDY" verify --rerun data/embed --store "$S"); rc=$?
check_eq "verify --rerun of the path-embedding stage: exit 0" "$rc" 0
check_eq "verify --rerun of the path-embedding stage: identical" "$out" \
	"$(printf '%s\n' 'rerun: identical data/embed (execution 4, run 2)' \
		'rerun: 1 identical, 0 different, 0 failed')"
out=$("$STUDY" verify --rerun --store "$S"); rc=$?
check_eq "verify --rerun of every stage: identical" "$rc $(echo "$out" | tail -n 1)" \
	"0 rerun: 2 identical, 0 different, 0 failed"
check_eq "nothing left in work/ after verify --rerun" "$(ls -A "$S/work")" ""
check_eq "no scratch directory left behind" "$(ls -A "$TMP/rtmp")" ""

# a run holds the writer lock: the rerun fails at once, touching nothing
cat >"$TMP/slow.yaml" <<YAML
study: slow
data:
  wait: {run: [/bin/sh, -c, 'touch "$TMP/started"; i=0; while [ ! -e "$TMP/go" ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done; echo done >"\$STUDY_OUT/x"']}
YAML
"$STUDY" run "$TMP/slow.yaml" --store "$S" >"$TMP/slow.out" 2>/dev/null &
bg=$!
i=0
while [ ! -e "$TMP/started" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
running=$(ls -A "$S/work")
out=$("$STUDY" verify --rerun data/embed --store "$S"); rc=$?
check_eq "lock held by a run: exit 1" "$rc" 1
check_eq "lock held by a run: the rerun fails with the reason" "$(echo "$out" | head -n 1)" \
	"rerun: failed    data/embed (execution 4, run 2): the store is in use by a run; verify --rerun needs it idle"
check "the running stage's work directory is left alone" \
	sh -c "[ -n '$running' ] && [ \"\$(ls -A '$S/work')\" = '$running' ] && [ -d '$S/work/$running/out' ]"
touch "$TMP/go"
wait $bg
check_eq "the slow run completed" "$(cat "$TMP/slow.out")" "run 3: ran 1, cached 0, failed 0"
check_eq "nothing left in work/" "$(ls -A "$S/work")" ""

# a copy of the store elsewhere: a scratch path, and the reason
cp -a "$S" "$TMP/copy"
out=$("$STUDY" verify --rerun data/embed --store "$TMP/copy"); rc=$?
check_eq "copied store: exit 1" "$rc" 1
check "copied store: the path-embedding stage differs, and why" \
	sh -c "echo \"\$1\" | grep -qx \"rerun: different data/embed (execution 4, run 2): first difference: 'paths.txt' differs .*; ran at a scratch path (the store is not where the stage ran): outputs that embed their own path will differ\"" - "$out"
out=$("$STUDY" verify --rerun data/plain --store "$TMP/copy"); rc=$?
check_eq "copied store: a stage that does not embed paths is identical" "$rc $out" \
	"$(printf '%s\n' '0 rerun: identical data/plain (execution 3, run 2)' \
		'rerun: 1 identical, 0 different, 0 failed')"
check_eq "copied store: nothing left in its work/" "$(ls -A "$TMP/copy/work")" ""
check_eq "original store: nothing left in work/" "$(ls -A "$S/work")" ""

# a store this user cannot write (an auditor's): a scratch path, and the reason
if [ "$(id -u)" = 0 ]; then
	if command -v setpriv >/dev/null 2>&1 && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
		as_reader() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	else
		as_reader() { su -s /bin/sh nobody -c '"$0" "$@"' "$@"; }
	fi
else
	chmod -R a-w "$S"
	as_reader() { "$@"; }
fi
out=$(as_reader "$STUDY" verify --rerun data/embed --store "$S" 2>&1); rc=$?
check_eq "read-only store: exit 1" "$rc" 1
check "read-only store: the path-embedding stage differs, and why" \
	sh -c "echo \"\$1\" | grep -qx \"rerun: different data/embed (execution 4, run 2): first difference: 'paths.txt' differs .*; ran at a scratch path (the store is read-only): outputs that embed their own path will differ\"" - "$out"
check_eq "read-only store: nothing left in work/ or \$TMPDIR" "$(ls -A "$S/work")$(ls -A "$TMP/rtmp")" ""
chmod -R u+w "$S"

# a record from before work directories were named by cache key (work/<label>-XXXXXX):
# a scratch path, and nothing at the old path is touched
sqlite3 "$S/provenance.db" "UPDATE executions SET env_json = replace(env_json, 'work/$key', 'work/embed-Ab12Cd'),
	argv_json = replace(argv_json, 'work/$key', 'work/embed-Ab12Cd') WHERE stage_id = 'data/embed'"
mkdir -p "$S/work/embed-Ab12Cd/out" && echo mine >"$S/work/embed-Ab12Cd/out/keep"
out=$("$STUDY" verify --rerun data/embed --store "$S"); rc=$?
check_eq "old record: exit 1" "$rc" 1
check "old record: the path-embedding stage differs, and why" \
	sh -c "echo \"\$1\" | grep -qx \"rerun: different data/embed (execution 4, run 2): first difference: 'paths.txt' differs .*; ran at a scratch path (the stage ran before work directories were named by cache key): outputs that embed their own path will differ\"" - "$out"
check_eq "old record: a directory at its old path is left alone" "$(cat "$S/work/embed-Ab12Cd/out/keep")" mine
done_testing
