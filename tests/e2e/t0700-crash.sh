#!/bin/sh
# Crash safety (issue 7): run a study and SIGKILL bin/study at random moments,
# KILLS times (default 20; tests/stress.sh uses 100+), rerunning each time.
# After every kill the store must pass store_check (objects named by their
# content, nothing half-written under a final name, manifests and cache
# consistent, SQLite integrity ok, nothing recorded as done without its
# output) and no stage process may be left behind; finally a rerun must
# complete with outputs identical to an uninterrupted run's, with tmp/ and
# work/ emptied and every killed run marked 'interrupted'.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reliability.sh"
cd "$TOP"
KILLS=${KILLS:-20}
S="$TMP/store"
REF="$TMP/ref"
copy_study studies/example.yaml "$TMP/study.yaml"

ms() { date +%s%3N; }
t0=$(ms)
"$STUDY" run "$TMP/study.yaml" --store "$REF" -j 2 >/dev/null 2>"$TMP/ref.err"
check_eq "the uninterrupted reference run succeeds" "$?" 0
dur=$(($(ms) - t0))
[ "$dur" -gt 50 ] || dur=50
max=$((dur * 7 / 10))

kills=0 epoch=0 iter=0 bad_store=0 bad_procs=0 bad_rc=0 completed=0
first_bad=
while [ $kills -lt "$KILLS" ] && [ $iter -lt $((KILLS * 4)) ]; do
	iter=$((iter + 1))
	"$STUDY" run "$TMP/study.yaml" --store "$S" -j 2 >/dev/null 2>"$TMP/run.err" &
	pid=$!
	d=$(rand_below "$max")
	sleep "$((d / 1000)).$(printf %03d $((d % 1000)))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	rc=$?
	case $rc in
	137) kills=$((kills + 1)) ;;
	0)
		# finished before the kill: start a new epoch so that there is work again
		completed=$((completed + 1))
		epoch=$((epoch + 1))
		sed -i "s/^seed: .*/seed: $((42 + epoch))/" "$TMP/study.yaml"
		;;
	*)
		bad_rc=$((bad_rc + 1))
		[ -n "$first_bad" ] || first_bad="run exited $rc: $(head -c 500 "$TMP/run.err")"
		;;
	esac
	if ! wait_no_procs "$S"; then
		bad_procs=$((bad_procs + 1))
		[ -n "$first_bad" ] || first_bad="stage processes left: $(store_procs "$S")"
	fi
	if ! store_check "$S" >"$TMP/check" 2>&1; then
		bad_store=$((bad_store + 1))
		[ -n "$first_bad" ] || first_bad="after kill $kills at ${d}ms: $(head -5 "$TMP/check")"
	fi
done
echo "# $kills kills in $iter runs ($completed completed before the kill; run ${dur}ms)"
check "at least $KILLS runs were killed" [ "$kills" -ge "$KILLS" ]
check_eq "every interrupted or rerun run exited 0 or was killed" "$bad_rc" 0
check_eq "no stage process outlived a killed run" "$bad_procs" 0
check_eq "the store was consistent after every kill" "$bad_store" 0
[ -z "$first_bad" ] || echo "#   first problem: $first_bad"

sed -i "s/^seed: .*/seed: 42/" "$TMP/study.yaml"
"$STUDY" run "$TMP/study.yaml" --store "$S" -j 2 >/dev/null 2>"$TMP/final.err"
check_eq "the final rerun completes" "$?" 0
check "the store is consistent after the final rerun" store_check "$S"
stage_digests "$REF" >"$TMP/ref.digests"
stage_digests "$S" >"$TMP/final.digests"
check "the final outputs equal those of the uninterrupted run" cmp -s "$TMP/ref.digests" "$TMP/final.digests"
check_eq "every stage has an output digest" \
	"$(grep -c '|[0-9a-f]\{64\}$' "$TMP/final.digests")" "$(wc -l <"$TMP/ref.digests")"
rep=$(grep '^report|' "$TMP/final.digests" | cut -d'|' -f2)
check "the report's files are byte-identical" diff -r "$REF/out/$rep" "$S/out/$rep"
check "no work directories are left" sh -c "[ -z \"\$(ls -A '$S/work')\" ]"
check "no temporaries are left" sh -c "[ -z \"\$(ls -A '$S/tmp')\" ]"
check_eq "no run is still marked running" \
	"$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM runs WHERE status = 'running'")" 0
# (a run killed before it recorded itself has no row at all)
check_eq "every recorded run is ok or interrupted" \
	"$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM runs WHERE status NOT IN ('ok', 'interrupted')")" 0
check "killed runs are marked interrupted" [ \
	"$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM runs WHERE status = 'interrupted'")" -ge 1 ]
done_testing
