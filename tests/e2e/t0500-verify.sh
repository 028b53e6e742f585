#!/bin/sh
# End to end: `study verify` passes on an intact store and names what is wrong
# after a stored object is flipped or deleted, a provenance row is edited or
# deleted (hash chain), and recomputes like an auditor with sqlite3 + sha256sum.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
copy_study studies/example.yaml "$TMP/example.yaml"
S="$TMP/store"
st=0
for i in 1 2 3; do "$STUDY" run "$TMP/example.yaml" --store "$S" >/dev/null 2>&1 || st=$?; done
check_eq "the example study runs three times" "$st" 0

out=$("$STUDY" verify --store "$S"); rc=$?
check_eq "intact store: verify exits 0" "$rc" 0
check_eq "intact store: summary line" "$(echo "$out" | tail -n 1)" \
	"verify: 26 objects, 25 trees, 3 runs, 78 executions checked; 0 problems"
js=$("$STUDY" verify --store "$S" --json)
check "intact store: --json ok true" json_has "$js" ok true
check "intact store: --json counts executions" json_has "$js" executions 78

# a copy of the store for each kind of damage
fresh() { rm -rf "$TMP/d"; cp -a "$S" "$TMP/d"; chmod -R u+w "$TMP/d"; }

fresh
obj=$(sqlite3 "$TMP/d/provenance.db" "SELECT digest FROM artifacts a JOIN executions e
	ON e.id = a.first_execution_id WHERE e.stage_id = 'model/small'")
f=$(sed -n 2p "$TMP/d/trees/$(echo "$obj" | cut -c1-2)/$obj" | cut -d' ' -f2)
p="$TMP/d/objects/$(echo "$f" | cut -c1-2)/$f"
printf 'Z' | dd of="$p" bs=1 seek=3 conv=notrunc 2>/dev/null
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "flipped byte: exit 1" "$rc" 1
check_eq "flipped byte: the object is named with its stage and run" \
	"$(echo "$out" | head -n 1)" \
	"verify: object '$f' content does not match its name (stage model/small, run 1)"

fresh
rm -f "$p"
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "deleted object: exit 1" "$rc" 1
check "deleted object: named as missing" sh -c "echo \"\$1\" | grep -q \"object '$f' (file '[^']*' of tree '$obj') is missing (stage model/small, run 1)\"" - "$out"

fresh
rm -f "$TMP/d/trees/$(echo "$obj" | cut -c1-2)/$obj"
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "deleted tree manifest: exit 1" "$rc" 1
check "deleted tree manifest: the recorded output is named" sh -c "echo \"\$1\" | grep -q \"tree '$obj' (output of execution 2) is missing or corrupt (stage model/small, run 1)\"" - "$out"

fresh
chmod -R u+w "$TMP/d/out"
echo extra >"$TMP/d/out/$obj/extra.txt"
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "extra file in a materialised tree: exit 1" "$rc" 1
check "extra file in a materialised tree: named" sh -c "echo \"\$1\" | grep -q \"'out/$obj' has 'extra.txt', not in its manifest\"" - "$out"

fresh
sqlite3 "$TMP/d/provenance.db" "UPDATE executions SET exit_code = 7 WHERE id = 3"
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "edited exit code: exit 1" "$rc" 1
# which stage finished third depends on scheduling: ask the database
stage3=$(sqlite3 "$TMP/d/provenance.db" "SELECT stage_id FROM executions WHERE id = 3")
check_eq "edited exit code: the execution is named" "$(echo "$out" | head -n 1)" \
	"verify: execution 3 (stage $stage3, run 1): its row, inputs or metrics do not match its record hash (edited?)"

fresh
sqlite3 "$TMP/d/provenance.db" "UPDATE metrics SET value = value + 0.125
	WHERE stage_id = 'eval/accuracy/small/base' AND metric = 'accuracy'"
out=$("$STUDY" verify --store "$TMP/d" --json); rc=$?
check_eq "edited metric value: exit 1" "$rc" 1
check "edited metric value: --json names the stage" json_has "$out" stage '"eval/accuracy/small/base"'
check "edited metric value: --json kind exec-hash" json_has "$out" kind '"exec-hash"'

fresh
sqlite3 "$TMP/d/provenance.db" "UPDATE runs SET status = 'failed' WHERE id = 2"
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "edited run row: exit 1" "$rc" 1
check "edited run row: named" sh -c "echo \"\$1\" | grep -q '^verify: run 2: its row or its list of executions does not match its record hash'" - "$out"

fresh
sqlite3 "$TMP/d/provenance.db" "DELETE FROM runs WHERE id = 2"
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "deleted run row: exit 1" "$rc" 1
check "deleted run row: orphaned executions reported" sh -c "echo \"\$1\" | grep -q 'run 2 belong to a run that is not in the database'" - "$out"
check "deleted run row: chain break at the next run" sh -c "echo \"\$1\" | grep -q 'run 3: prev_hash does not match the record hash of run 1'" - "$out"

fresh
sqlite3 "$TMP/d/provenance.db" "DELETE FROM metrics WHERE execution_id IN (SELECT id FROM executions WHERE run_id = 2);
	DELETE FROM inputs WHERE execution_id IN (SELECT id FROM executions WHERE run_id = 2);
	DELETE FROM executions WHERE run_id = 2; DELETE FROM runs WHERE id = 2"
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "run deleted with all its rows: exit 1" "$rc" 1
check "run deleted with all its rows: chain break" sh -c "echo \"\$1\" | grep -q 'run 3: prev_hash does not match the record hash of run 1'" - "$out"

fresh
sqlite3 "$TMP/d/provenance.db" "DELETE FROM executions WHERE id = 30"
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "deleted execution row: exit 1" "$rc" 1
check "deleted execution row: its run's hash breaks" sh -c "echo \"\$1\" | grep -q 'verify: run 2: its row or its list of executions does not match'" - "$out"

# the auditor's recomputation, with the SQL exactly as docs/auditing.md gives it
sed -n '/^-- canonical execution record/,/^) ORDER BY k, r;/p' docs/auditing.md >"$TMP/exec.sql"
sed -n '/^-- canonical run record/,/^) ORDER BY k, r;/p' docs/auditing.md >"$TMP/run.sql"
check "docs/auditing.md gives both SELECTs" sh -c "[ -s '$TMP/exec.sql' ] && [ -s '$TMP/run.sql' ]"
for id in 1 26 40; do
	got=$(sqlite3 -readonly "$S/provenance.db" -cmd ".param set :id $id" <"$TMP/exec.sql" | sha256sum | cut -d' ' -f1)
	want=$(sqlite3 -readonly "$S/provenance.db" "SELECT record_hash FROM executions WHERE id = $id")
	check_eq "sqlite3 | sha256sum recomputes execution $id's record hash" "$got" "$want"
done
for id in 1 3; do
	got=$(sqlite3 -readonly "$S/provenance.db" -cmd ".param set :id $id" <"$TMP/run.sql" | sha256sum | cut -d' ' -f1)
	want=$(sqlite3 -readonly "$S/provenance.db" "SELECT record_hash FROM runs WHERE id = $id")
	check_eq "sqlite3 | sha256sum recomputes run $id's record hash" "$got" "$want"
done
check_eq "the first run's prev_hash is 64 zeros" \
	"$(sqlite3 -readonly "$S/provenance.db" "SELECT prev_hash FROM runs WHERE id = 1")" \
	0000000000000000000000000000000000000000000000000000000000000000
check_eq "each run's prev_hash is the previous run's record_hash" \
	"$(sqlite3 -readonly "$S/provenance.db" "SELECT count(*) FROM runs r JOIN runs q ON q.id = r.id - 1 WHERE r.prev_hash = q.record_hash")" 2

# a schema-1 store (before the chain) is migrated and its rows hashed in order
fresh
sqlite3 "$TMP/d/provenance.db" "ALTER TABLE runs DROP COLUMN record_hash;
	ALTER TABLE runs DROP COLUMN prev_hash; ALTER TABLE executions DROP COLUMN record_hash;
	ALTER TABLE inputs DROP COLUMN source; PRAGMA user_version = 1"
"$STUDY" verify --store "$TMP/d" >/dev/null 2>"$TMP/err"; rc=$?
check_eq "verify on a schema-1 database: exit 2" "$rc" 2
"$STUDY" run "$TMP/example.yaml" --store "$TMP/d" >/dev/null 2>&1
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "after migration to schema 2 the whole chain verifies" "$rc" 0
check_eq "after migration: summary" "$(echo "$out" | tail -n 1)" \
	"verify: 26 objects, 25 trees, 4 runs, 104 executions checked; 0 problems"

# a killed run is sealed as interrupted by the next run and verifies
K="$TMP/k"
cat >"$TMP/slow.yaml" <<YAML
study: slow
root: $TOP
data:
  nap: {run: [stages/bin/toystage, sleep, --seconds, "30", --out, "\${out}"]}
  quick: {run: [stages/bin/toystage, gen, --seed, "1", --n, "4", --out, "\${out}"]}
YAML
"$STUDY" run "$TMP/slow.yaml" --store "$K" -j 2 >/dev/null 2>&1 &
pid=$!
# wait (up to 25 s on a busy machine) until the quick stage is recorded
i=0
while [ $i -lt 500 ] && [ "$(sqlite3 "$K/provenance.db" "SELECT count(*) FROM executions" 2>/dev/null)" != 1 ]; do
	sleep 0.05; i=$((i + 1))
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
out=$("$STUDY" verify --store "$K" --no-git); rc=$?
check_eq "a killed run (not sealed yet) is a note, not a problem" "$rc" 0
check "a killed run: the note says so" sh -c "echo \"\$1\" | grep -q 'verify: note: run 1 is still marked running'" - "$out"
"$STUDY" run "$TMP/example.yaml" --store "$K" >/dev/null 2>&1
check_eq "the next run marks it interrupted" \
	"$(sqlite3 "$K/provenance.db" "SELECT status FROM runs WHERE id = 1")" interrupted
"$STUDY" verify --store "$K" >/dev/null; rc=$?
check_eq "an interrupted run is sealed and verifies" "$rc" 0

# cache hits are recorded by reference to the execution that produced their
# output: a store whose database was lost and restarted has hits without one
fresh
check_eq "a hit row names no command (its producer's)" \
	"$(sqlite3 "$TMP/d/provenance.db" "SELECT count(*) FROM executions WHERE run_id = 2
		AND status = 'cached' AND argv_json IS NULL")" 26
rm -f "$TMP/d/provenance.db" "$TMP/d/provenance.db-wal" "$TMP/d/provenance.db-shm"
"$STUDY" run "$TMP/example.yaml" --store "$TMP/d" >/dev/null 2>&1
out=$("$STUDY" verify --store "$TMP/d"); rc=$?
check_eq "lost database, hits without producer: exit 1" "$rc" 1
check "lost database: each such hit is named" sh -c "echo \"\$1\" | grep -q \"verify: cache hit 1 has no execution that produced its output (status 'ran', same cache key and output) in this database: its command and inputs are not recorded (stage data/corpus, run 1)\"" - "$out"
check_eq "lost database: one problem per hit" \
	"$(echo "$out" | grep -c 'has no execution that produced')" 26

# usage
"$STUDY" verify --store "$TMP/nowhere" >/dev/null 2>"$TMP/err"; rc=$?
check_eq "no store: exit 2" "$rc" 2
check_eq "no store: message" "$(cat "$TMP/err")" "study: error: no store at '$TMP/nowhere'"
"$STUDY" verify model/small --store "$S" >/dev/null 2>&1; rc=$?
check_eq "a stage id without --rerun: exit 2" "$rc" 2
done_testing
