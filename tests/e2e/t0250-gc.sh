#!/bin/sh
# study gc (issue 12): after a params change and a rerun, --dry-run lists
# exactly what the old run alone used and changes nothing; gc removes it
# (exact summary, bytes equal to what left the disk), keeps every output of
# the latest run (a rerun is all cache hits), never touches provenance rows,
# and verify reports the removed outputs as collected and exits 0.
# --keep-runs 2 keeps the previous run; a STUDY argument keeps what that
# study would reuse; a failed latest run keeps the last good one; bad input.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reliability.sh"
cd "$TOP"
S="$TMP/store"
copy_study studies/example.yaml "$TMP/a.yaml"
sed 's/params: {factor: 0.5}/params: {factor: 0.25}/' "$TMP/a.yaml" >"$TMP/b.yaml"
sed 's/params: {factor: 0.5}/params: {factor: 0.125}/' "$TMP/a.yaml" >"$TMP/c.yaml"

# bytes of every file gc may remove
store_bytes() {
	find "$1/objects" "$1/trees" "$1/stat" "$1/tmp" "$1/work" -type f -printf '%s\n' |
		awk '{ s += $1 } END { print s + 0 }'
}
# every name in the store but the lock (its pid changes) and the database
store_listing() {
	(cd "$1" && find . -path ./provenance.db\* -prune -o ! -name lock -printf '%y %m %s %p %l\n' |
		sort)
}
# the digests (outputs, inputs, logs) the executions of run $2 refer to
run_digests() {
	sqlite3 "$1/provenance.db" "SELECT output_digest FROM executions WHERE run_id = $2
		AND output_digest IS NOT NULL UNION SELECT i.digest FROM inputs i JOIN executions e
		ON e.id = i.execution_id WHERE e.run_id = $2" | sort -u
}
# store_check (reliability.sh), where a recorded output may be missing only
# when gc_collected lists it
gc_store_check() {
	store_check "$1" | while IFS= read -r l; do
		case $l in
		"bad: recorded output "*" has no manifest")
			d=${l#bad: recorded output }; d=${d%% *}
			[ "$(sqlite3 "$1/provenance.db" "SELECT count(*) FROM gc_collected
				WHERE digest = '$d'")" -gt 0 ] || echo "$l" ;;
		*) echo "$l" ;;
		esac
	done | grep . && return 1
	return 0
}

"$STUDY" run "$TMP/a.yaml" --store "$S" >/dev/null 2>&1
check_eq "run 1 (factor 0.5) succeeds" "$?" 0
"$STUDY" run "$TMP/b.yaml" --store "$S" >"$TMP/out" 2>&1
check "run 2 (factor 0.25) reruns the 13 halve stages" grep -q 'run 2: ran 13, cached 13' "$TMP/out"
old=$(run_digests "$S" 1 | grep -vxF -f "$(run_digests "$S" 2 >"$TMP/r2"; echo "$TMP/r2")")
nold=$(echo "$old" | grep -c .)
check_eq "run 1 alone used 13 trees" "$nold" 13
# leftovers of a killed run: two temporaries of 5 + 7 bytes
printf 12345 >"$S/tmp/leftover"
mkdir -p "$S/work/0123"
printf 1234567 >"$S/work/0123/stdout"
sqlite3 "$S/provenance.db" "SELECT * FROM executions ORDER BY id; SELECT * FROM runs ORDER BY id;
	SELECT * FROM inputs ORDER BY rowid; SELECT * FROM artifacts ORDER BY digest" >"$TMP/rows.before"

# --dry-run: lists, removes and records nothing
store_listing "$S" >"$TMP/listing.before"
before=$(store_bytes "$S")
"$STUDY" gc --store "$S" --dry-run >"$TMP/dry" 2>"$TMP/dry.err"
check_eq "gc --dry-run exits 0" "$?" 0
check_eq "gc --dry-run prints nothing on stderr" "$(cat "$TMP/dry.err")" ""
check_eq "--dry-run lists exactly the trees only run 1 used" \
	"$(sed -n 's/^would remove tree \([0-9a-f]*\) .*/\1/p' "$TMP/dry" | sort)" "$old"
first=$(echo "$old" | head -1)
stage=$(sqlite3 "$S/provenance.db" "SELECT stage_id FROM executions WHERE output_digest =
	'$first' AND status = 'ran' ORDER BY id LIMIT 1")
check "... each with the stage and run that made it" \
	grep -qx "would remove tree $first (output of $stage, run 1)" "$TMP/dry"
check_eq "... and a cache entry for each" "$(grep -c '^would remove cache entry ' "$TMP/dry")" 13
check_eq "--dry-run changes nothing in the store" "$(store_listing "$S")" "$(cat "$TMP/listing.before")"
check_eq "--dry-run records no collection" \
	"$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM gc_runs")" 0
dry_bytes=$(sed -n 's/^gc: would remove .*: \([0-9]*\) bytes$/\1/p' "$TMP/dry")
check_eq "--dry-run's summary line" "$(tail -1 "$TMP/dry")" \
	"gc: would remove 13 trees, 13 objects, 13 cache entries and 2 temporaries: $dry_bytes bytes"

# gc
"$STUDY" gc --store "$S" >"$TMP/gc" 2>"$TMP/gc.err"
check_eq "gc exits 0" "$?" 0
after=$(store_bytes "$S")
check_eq "gc's summary: counts, and the bytes that left objects/, trees/, stat/, tmp/, work/" \
	"$(tail -1 "$TMP/gc")" \
	"gc 1: removed 13 trees, 13 objects, 13 cache entries and 2 temporaries: $((before - after)) bytes freed"
check_eq "... as many bytes as --dry-run announced" "$((before - after))" "$dry_bytes"
check_eq "gc says what it kept" "$(head -1 "$TMP/gc")" \
	"gc: keeping 25 trees, 26 objects and 26 cache entries used by run 2"
missing=0
for d in $old; do [ -e "$S/trees/$(printf %.2s "$d")/$d" ] && missing=$((missing + 1)); done
check_eq "every tree only run 1 used is gone" "$missing" 0
kept=0
for d in $(cat "$TMP/r2"); do
	[ -e "$S/trees/$(printf %.2s "$d")/$d" ] && [ -d "$S/out/$d" ] && kept=$((kept + 1))
done
check_eq "every tree run 2 used is still there, materialised" "$kept" "$(grep -c . "$TMP/r2")"
check_eq "the leftovers are gone" "$(ls "$S/tmp" "$S/work" | grep -vc ':$\|^$')" 0
check "the store is consistent (only collected outputs are missing)" gc_store_check "$S"
sqlite3 "$S/provenance.db" "SELECT * FROM executions ORDER BY id; SELECT * FROM runs ORDER BY id;
	SELECT * FROM inputs ORDER BY rowid; SELECT * FROM artifacts ORDER BY digest" >"$TMP/rows.after"
check "provenance rows are untouched" cmp -s "$TMP/rows.before" "$TMP/rows.after"
check_eq "the collection is recorded: gc_runs" \
	"$(sqlite3 "$S/provenance.db" "SELECT keep_runs, kept_runs, last_run, trees, objects,
		cache_entries, bytes, ended IS NOT NULL FROM gc_runs")" \
	"1|[2]|2|13|13|13|$dry_bytes|1"
check_eq "... and gc_collected: every tree and object removed" \
	"$(sqlite3 "$S/provenance.db" "SELECT kind, count(*) FROM gc_collected GROUP BY kind")" \
	"object|13
tree|13"
check_eq "... the trees by digest" \
	"$(sqlite3 "$S/provenance.db" "SELECT digest FROM gc_collected WHERE kind = 'tree'" | sort)" "$old"

"$STUDY" verify --store "$S" --no-git >"$TMP/verify" 2>&1
check_eq "verify after gc exits 0" "$?" 0
check_eq "verify reports the removed outputs as collected" \
	"$(grep -v '^verify: chain head' "$TMP/verify")" \
	"verify: collected: 13 trees recorded by run 1 were removed by gc 1
verify: 26 objects, 25 trees, 2 runs, 52 executions checked; 0 problems"
"$STUDY" verify --store "$S" --no-git --json >"$TMP/verify.json"
check_eq "verify --json lists each collected digest" \
	"$(grep -c '"reference":	"output"' "$TMP/verify.json")" 13
"$STUDY" status "$TMP/b.yaml" --store "$S" >"$TMP/status"
check "status: the latest study is up to date" grep -qx '26 of 26 stages up to date, 0 will run' "$TMP/status"
"$STUDY" run "$TMP/b.yaml" --store "$S" >"$TMP/out" 2>&1
check "a no-op rerun is all cache hits" grep -q 'run 3: ran 0, cached 26, failed 0' "$TMP/out"
"$STUDY" gc --store "$S" >"$TMP/gc2" 2>&1
check_eq "a second gc removes nothing" "$(tail -1 "$TMP/gc2")" \
	"gc 2: removed 0 trees, 0 objects, 0 cache entries and 0 temporaries: 0 bytes freed"
"$STUDY" run "$TMP/a.yaml" --store "$S" >"$TMP/out" 2>&1
check "going back to factor 0.5 reruns what gc removed" grep -q 'run 4: ran 13, cached 13' "$TMP/out"
"$STUDY" verify --store "$S" --no-git >"$TMP/verify" 2>&1
check_eq "verify is clean after the outputs are made again" "$?" 0
check "... and no longer lists them as collected" sh -c "! grep -q collected '$TMP/verify'"

# --keep-runs 2: the previous run's outputs stay
K="$TMP/keep2"
for y in a b c; do "$STUDY" run "$TMP/$y.yaml" --store "$K" >/dev/null 2>&1; done
"$STUDY" gc --store "$K" --keep-runs 2 >"$TMP/gc" 2>&1
check_eq "--keep-runs 2 keeps runs 2 and 3" "$(head -1 "$TMP/gc")" \
	"gc: keeping 38 trees, 39 objects and 39 cache entries used by runs 2, 3"
check_eq "... and removes what run 1 alone used" "$(tail -1 "$TMP/gc")" \
	"gc 1: removed 13 trees, 13 objects, 13 cache entries and 0 temporaries: $(sqlite3 "$K/provenance.db" "SELECT bytes FROM gc_runs") bytes freed"
"$STUDY" run "$TMP/b.yaml" --store "$K" >"$TMP/out" 2>&1
check "the previous run (factor 0.25) is all cache hits" grep -q 'ran 0, cached 26' "$TMP/out"
"$STUDY" gc --store "$K" --json >"$TMP/gc.json"
# (a stat record is not written within the clock tick of a change: their count varies)
check_eq "gc --json: one object with the counts" "$(sed 's/"stat_records":[0-9]*/"stat_records":N/' "$TMP/gc.json")" \
	'{"gc":2,"dry_run":false,"kept_runs":[4],"kept":{"trees":25,"objects":26,"cache_entries":26},"removed":{"trees":13,"objects":13,"cache_entries":13,"materialised_trees":13,"stat_records":N,"temporaries":0},"bytes":'"$(sqlite3 "$K/provenance.db" "SELECT bytes FROM gc_runs WHERE id = 2")"'}'

# a STUDY argument keeps what that study would reuse now
A="$TMP/withstudy"
"$STUDY" run "$TMP/a.yaml" --store "$A" >/dev/null 2>&1
"$STUDY" run "$TMP/b.yaml" --store "$A" >/dev/null 2>&1
"$STUDY" gc "$TMP/a.yaml" --store "$A" >"$TMP/gc" 2>&1
check_eq "gc STUDY keeps the latest run and what the study reuses" "$(cat "$TMP/gc")" \
	"gc: keeping 38 trees, 39 objects and 39 cache entries used by run 2 and by $TMP/a.yaml
gc 1: removed 0 trees, 0 objects, 0 cache entries and 0 temporaries: 0 bytes freed"
"$STUDY" run "$TMP/a.yaml" --store "$A" >"$TMP/out" 2>&1
check "... so that study reruns from the cache" grep -q 'run 3: ran 0, cached 26' "$TMP/out"

# a failed latest run: the newest good run's outputs stay
F="$TMP/failed"
awk '{print} /^methods:/ {print "  broken:\n    run: [stages/bin/toystage, fail]"}' "$TMP/b.yaml" >"$TMP/f.yaml"
"$STUDY" run "$TMP/a.yaml" --store "$F" >/dev/null 2>&1
"$STUDY" run "$TMP/f.yaml" --store "$F" >/dev/null 2>&1
check_eq "a run with a failing method fails" "$(sqlite3 "$F/provenance.db" "SELECT status FROM runs WHERE id = 2")" failed
"$STUDY" gc --store "$F" >"$TMP/gc" 2>&1
check "gc keeps the failed run and the last good one" \
	grep -q 'used by runs 1, 2$' "$TMP/gc"
"$STUDY" run "$TMP/a.yaml" --store "$F" >"$TMP/out" 2>&1
check "the last good run still reruns from the cache" grep -q 'run 3: ran 0, cached 26' "$TMP/out"

# bad input: exact messages, exit 2, nothing removed
gc_err() { # gc_err WHAT WANT-RC WANT-STDERR ARGS...
	what=$1 want_rc=$2 want=$3; shift 3
	"$STUDY" gc "$@" >/dev/null 2>"$TMP/err"
	rc=$?
	check_eq "$what: exit $want_rc" "$rc" "$want_rc"
	check_eq "$what: message" "$(head -1 "$TMP/err")" "$want"
}
gc_err "--keep-runs 0" 2 "study: error: --keep-runs wants a number from 1 to 1000000, not '0'" \
	--store "$S" --keep-runs 0
gc_err "--keep-runs x" 2 "study: error: --keep-runs wants a number from 1 to 1000000, not 'x'" \
	--store "$S" --keep-runs x
gc_err "an unknown option" 2 "study: error: unknown option or missing value: '--bogus'" \
	--store "$S" --bogus
gc_err "two study files" 2 "study: error: give at most one study file" \
	"$TMP/a.yaml" "$TMP/b.yaml" --store "$S"
gc_err "no store" 2 "study: error: no store at '$TMP/nowhere'" --store "$TMP/nowhere"
mkdir -p "$TMP/nodb/objects"
gc_err "a store without provenance" 2 \
	"study: error: no provenance database at '$TMP/nodb/provenance.db': gc keeps what recorded runs use, and removes nothing without them" \
	--store "$TMP/nodb"
printf 'study: bad\nbogus: 1\n' >"$TMP/bad.yaml"
gc_err "a bad study file" 2 "study: error: $TMP/bad.yaml:2:1: unknown top-level key 'bogus'" \
	"$TMP/bad.yaml" --store "$S"
check_eq "bad input removed nothing and recorded nothing" \
	"$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM gc_runs")" 2
done_testing
