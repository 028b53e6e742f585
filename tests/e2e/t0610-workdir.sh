#!/bin/sh
# Work directories are recycled between stages (runner.c, docs/benchmarks.md):
# every stage must still find empty cwd/, out/ and tmp/ of its own, whatever
# the previous stage left there or did to them, and nothing stays in work/.
. "$(dirname "$0")/lib.sh"

# Each stage records what it finds, then leaves junk (and one breaks the modes).
probe='c=$(ls -A .); t=$(ls -A "$TMPDIR"); o=$(ls -A "$STUDY_OUT");
printf %s "$c" >"$STUDY_OUT/cwd.txt"; printf %s "$t" >"$STUDY_OUT/tmp.txt";
printf %s "$o" >"$STUDY_OUT/out.txt"; pwd >"$STUDY_OUT/pwd.txt";
stat -c %a . "$TMPDIR" >"$STUDY_OUT/modes.txt";
touch junk "$TMPDIR/junk"; mkdir -p d/e "$TMPDIR/d"'
cat >"$TMP/s.yaml" <<EOF2
study: workdirs
root: $TOP
data:
  a: {run: [/bin/sh, -c, '$probe', a]}
  b: {run: [/bin/sh, -c, '$probe; chmod 500 .', b]}
  c: {run: [/bin/sh, -c, '$probe; chmod 000 "\$TMPDIR"', c]}
  d: {run: [/bin/sh, -c, '$probe; ln -s / ../cwd2', d]}
  e: {run: [/bin/sh, -c, '$probe', e]}
  f: {run: [/bin/sh, -c, '$probe', f]}
EOF2
out=$("$STUDY" run "$TMP/s.yaml" --store "$TMP/st" -j 1 2>"$TMP/err")
check_eq "six probing stages ran" "$out" "run 1: ran 6, cached 0, failed 0"
empty=0; fresh=1; pwds=""
for t in "$TMP"/st/out/*; do
	for f in cwd tmp out; do
		[ -s "$t/$f.txt" ] && empty=1
	done
	p=$(cat "$t/pwd.txt")
	case "$pwds" in *"|$p|"*) fresh=0 ;; esac
	pwds="$pwds|$p|"
done
check_eq "every stage found empty cwd/, tmp/ and out/" "$empty" 0
# as root, a mode of 000 or 500 left by the previous stage would not show in
# what the next one can do: compare the modes themselves
check_eq "every stage found cwd/ and tmp/ with the same modes (b's chmod 500, c's 000 undone)" \
	"$(cat "$TMP"/st/out/*/modes.txt | LC_ALL=C sort -u | tr '\n' ' ')" "$(head -n 2 "$(ls "$TMP"/st/out/*/modes.txt | head -n 1)" | LC_ALL=C sort -u | tr '\n' ' ')"
check "... and writable by their owner" sh -c "! grep -qv '^[67]' \"\$@\"" - "$TMP"/st/out/*/modes.txt
check_eq "every stage ran in a directory named for it alone" "$fresh" 1
key=$(sqlite3 "$TMP/st/provenance.db" "SELECT cache_key FROM executions WHERE stage_id = 'data/c'")
check "the directory is work/<the stage's cache key>" grep -qx ".*/st/work/$key/cwd" \
	"$TMP"/st/out/*/pwd.txt
check_eq "work/ is empty after the run" "$(ls -A "$TMP/st/work")" ""
check "no stage failed" sh -c "! grep -q failed '$TMP/err'"
# a parallel run: same guarantees with two slots
out=$("$STUDY" run "$TMP/s.yaml" --store "$TMP/st2" -j 2 2>/dev/null)
check_eq "parallel run" "$out" "run 1: ran 6, cached 0, failed 0"
check_eq "parallel: identical outputs but pwd" \
	"$(cat "$TMP"/st2/out/*/cwd.txt "$TMP"/st2/out/*/tmp.txt "$TMP"/st2/out/*/out.txt | wc -c)" 0
done_testing
