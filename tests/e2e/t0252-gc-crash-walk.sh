#!/bin/sh
# study gc killed at every step (issue 12): every unlink and rename it makes
# in the store and each provenance COMMIT is a crash step (STUDY_CRASH_AT,
# fsutil.h; as in t0705). A traced reference gc on a store with garbage
# (old outputs, an old log, cache entries, leftovers in tmp/ and work/)
# counts the steps; then for every N, before and after the step, gc is
# killed there, and:
#  - the store is consistent (store_check, reliability.sh), a recorded output
#    missing only when gc_collected names it;
#  - `study verify` exits 0 (what is gone was recorded as collected first);
#  - readers work on it as they would during a gc: `status` finds the latest
#    study up to date, `show` works;
#  - gc run again finishes and leaves exactly the reference store;
#  - verify is clean and a rerun of the study is all cache hits.
# Env: WALK_STRIDE=K walks every K-th N only (default 1; 2 under SAN=1).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reliability.sh"
cd "$TOP"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
S="$TMP/store"
stride=${WALK_STRIDE:-1}
[ "${SAN:-}" = 1 ] && [ -z "${WALK_STRIDE:-}" ] && stride=2

study() { # study SEED: a data stage, a model on it, a stage that logs
	cat <<YAML
study: gc-walk
root: $TOP
data:
  corpus: {run: [$TOY, gen, --seed, "$1", --n, "8", --out, "\${out}"]}
  note: {run: [sh, -c, 'echo "note \$0"; echo "\$0" >"\$1/note"', "$1", "\${out}"]}
models:
  small:
    run: [$TOY, train, --data, "\${data.corpus}", --size, "4", --steps, "2", --out, "\${out}"]
YAML
}
study 1 >"$TMP/a.yaml"
study 2 >"$TMP/b.yaml"

wipe() { chmod -R u+w "$S" 2>/dev/null; rm -rf "$S"; }
names() { (cd "$1" && find objects trees cache out stat -mindepth 1 | sort); }
gc_check() { # store_check, a recorded output missing only when collected
	store_check "$1" | while IFS= read -r l; do
		case $l in
		"bad: recorded output "*" has no manifest")
			d=${l#bad: recorded output }; d=${d%% *}
			[ "$(sqlite3 -readonly "$1/provenance.db" "SELECT count(*) FROM gc_collected
				WHERE digest = '$d'")" -gt 0 ] || echo "$l" ;;
		*) echo "$l" ;;
		esac
	done | grep . && return 1
	return 0
}

# the reference: a run, a rerun of cache hits (which writes the trees' stat
# records), a run that changes every stage, leftovers, a gc
"$STUDY" run "$TMP/a.yaml" --store "$S" -j 1 >/dev/null 2>&1 && sleep 0.1 &&
	"$STUDY" run "$TMP/a.yaml" --store "$S" -j 1 >/dev/null 2>&1 &&
	"$STUDY" run "$TMP/b.yaml" --store "$S" -j 1 >"$TMP/out" 2>&1
check "three runs, the last reruns every stage" grep -q 'run 3: ran 3, cached 0' "$TMP/out"
check "the first study's trees have stat records" [ "$(ls "$S/stat" | wc -l)" -ge 3 ]
printf 12345 >"$S/tmp/leftover"
mkdir -p "$S/work/0123/out"
printf 1234567 >"$S/work/0123/out/x"
cp -a "$S" "$TMP/before"
STUDY_CRASH_TRACE="$TMP/gc.trace" "$STUDY" gc --store "$S" >"$TMP/gc" 2>&1
check_eq "the traced gc succeeds" "$?" 0
check "... removing the first run's outputs, objects, log and entries" grep -qx \
	'gc 1: removed 3 trees, 4 objects, 3 cache entries and 2 temporaries: [0-9]* bytes freed' "$TMP/gc"
names "$S" >"$TMP/ref"
check "the reference store passes store_check" gc_check "$S"
n=$(wc -l <"$TMP/gc.trace")
echo "# gc steps: $n ($(cut -d' ' -f2 "$TMP/gc.trace" | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }'))"
check "its steps: the record's commit, then unlinks and renames, then the end's commit" \
	sh -c "head -1 '$TMP/gc.trace' | grep -q ' commit ' && tail -1 '$TMP/gc.trace' | grep -q ' commit ' &&
		grep -q ' unlink .*/cache/' '$TMP/gc.trace' && grep -q ' rename .*/out/' '$TMP/gc.trace' &&
		grep -q ' unlink .*/trees/' '$TMP/gc.trace' && grep -q ' unlink .*/objects/' '$TMP/gc.trace'"
order=$(sed -n "s|^[0-9]* [a-z]* $S/\([a-z]*\)/.*|\1|p" "$TMP/gc.trace" | uniq | tr '\n' ' ')
check_eq "the order: cache entries, out/, stat records, manifests, objects" "$order" \
	"cache out stat trees objects "

walked=0 crashed=0 bad_rc=0 bad=0 bad_verify=0 bad_read=0 bad_again=0 bad_rerun=0 first=
k=1
t0=$(date +%s%3N)
while [ "$k" -le "$n" ]; do
	for mode in before after; do
		wipe
		cp -a "$TMP/before" "$S"
		rm -f "$TMP/t"
		STUDY_CRASH_AT="$k:$mode" STUDY_CRASH_TRACE="$TMP/t" "$STUDY" gc --store "$S" \
			>/dev/null 2>"$TMP/err"
		rc=$?
		walked=$((walked + 1))
		step=$(grep ' (crash ' "$TMP/t" 2>/dev/null | sed "s|$S/||")
		case $rc in
		137) crashed=$((crashed + 1)) ;;
		*) bad_rc=$((bad_rc + 1))
		   [ -n "$first" ] || first="$k:$mode: exit $rc: $(head -c 300 "$TMP/err")" ;;
		esac
		if ! gc_check "$S" >"$TMP/check"; then
			bad=$((bad + 1))
			[ -n "$first" ] || first="killed at $step: $(head -3 "$TMP/check")"
		fi
		if ! "$STUDY" verify --store "$S" --no-git >"$TMP/verify" 2>&1; then
			bad_verify=$((bad_verify + 1))
			[ -n "$first" ] || first="verify after $step: $(grep -v chain "$TMP/verify" | head -3)"
		fi
		if ! "$STUDY" status "$TMP/b.yaml" --store "$S" 2>&1 |
			grep -qx '3 of 3 stages up to date, 0 will run' ||
			! "$STUDY" show model/small --store "$S" >/dev/null 2>&1; then
			bad_read=$((bad_read + 1))
			[ -n "$first" ] || first="readers after $step"
		fi
		if ! "$STUDY" gc --store "$S" >"$TMP/again" 2>&1 ||
			! names "$S" | cmp -s - "$TMP/ref"; then
			bad_again=$((bad_again + 1))
			[ -n "$first" ] || first="gc again after $step: $(head -3 "$TMP/again")"
		fi
		if ! "$STUDY" verify --store "$S" --no-git >"$TMP/verify" 2>&1 ||
			! "$STUDY" run "$TMP/b.yaml" --store "$S" >"$TMP/out" 2>&1 ||
			! grep -q 'ran 0, cached 3, failed 0' "$TMP/out"; then
			bad_rerun=$((bad_rerun + 1))
			[ -n "$first" ] || first="verify and rerun after $step: $(head -3 "$TMP/verify" "$TMP/out")"
		fi
	done
	k=$((k + stride))
done
t1=$(date +%s%3N)
[ "$stride" = 1 ] || echo "# walked 1 step in $stride only (WALK_STRIDE; 2 by default under SAN=1)"
echo "# $walked crash runs ($crashed killed) in $(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100)) s"
check_eq "every crash run was killed at its step (exit 137)" "$bad_rc" 0
check_eq "the store was consistent after every stop" "$bad" 0
check_eq "study verify exits 0 after every stop" "$bad_verify" 0
check_eq "status and show work after every stop" "$bad_read" 0
check_eq "gc again finishes with the reference store after every stop" "$bad_again" 0
check_eq "then verify is clean and a rerun is all cache hits" "$bad_rerun" 0
[ -z "$first" ] || echo "#   first problem: $first"
done_testing
