#!/bin/sh
# Stage failures and limits (issue 7): non-zero exit, killed by a signal, over
# resources.time, ${out} removed, replaced by a symlink, left empty, and a
# stage that writes into its input. Each must fail the stage with a clear
# reason (printed and recorded in provenance), make `run` exit 1, and store
# nothing for the stage (no cache entry, no output tree); the damaged input
# is repaired.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reliability.sh"
cd "$TOP"
S="$TMP/store"
DB="$S/provenance.db"

# run_fail NAME RUN-ARGV-YAML: a one-stage study whose stage must fail
run_fail() {
	cat >"$TMP/$1.yaml" <<YAML
study: $1
root: $TOP
data:
  victim: {run: $2${3:-}}
YAML
	ncache=$(cache_count "$S")
	nout=$(ls "$S/out" 2>/dev/null | wc -l)
	ntrees=$(find "$S/trees" -type f 2>/dev/null | wc -l)
	"$STUDY" run "$TMP/$1.yaml" --store "$S" >"$TMP/$1.out" 2>"$TMP/$1.err"
	rc=$?
	check_eq "$1: run exits 1" "$rc" 1
	check_eq "$1: no cache entry was written" "$(cache_count "$S")" "$ncache"
	key=$(sqlite3 "$DB" "SELECT cache_key FROM executions WHERE stage_id = 'data/victim'
		AND run_id = (SELECT max(id) FROM runs)")
	check "$1: nothing in the cache under the stage's key" \
		sh -c "[ -n '$key' ] && [ ! -e '$S/cache/$(echo "$key" | cut -c1-2)/$key' ] &&
			[ ! -L '$S/cache/$(echo "$key" | cut -c1-2)/$key' ]"
	check_eq "$1: no output tree was stored" "$(ls "$S/out" | wc -l)" "$nout"
	check_eq "$1: no tree manifest was stored" "$(find "$S/trees" -type f | wc -l)" "$ntrees"
	reason=$(sqlite3 "$DB" "SELECT reason FROM executions WHERE stage_id = 'data/victim'
		AND run_id = (SELECT max(id) FROM runs)")
	st=$(sqlite3 "$DB" "SELECT status FROM executions WHERE stage_id = 'data/victim'
		AND run_id = (SELECT max(id) FROM runs)")
	check_eq "$1: recorded as failed" "$st" failed
	check "$1: no work directory left" sh -c "[ -z \"\$(ls -A '$S/work')\" ]"
}
# reason_has NAME TEXT: the recorded reason and the printed report contain TEXT
reason_has() {
	case "$reason" in *"$2"*) ok "$1: recorded reason says '$2'" ;;
	*) notok "$1: recorded reason says '$2'"; echo "#   got: $reason" ;; esac
	check "$1: printed reason says '$2'" grep -qF "$2" "$TMP/$1.err"
}

run_fail exit '[stages/bin/toystage, fail, --code, "9"]'
reason_has exit "exit status 9"

# a stage that writes a complete output and then exits non-zero: failed, and
# its output is stored nowhere (checked in the database and the store
# directly), so the next run runs it again rather than reusing it
run_fail complete '[/bin/sh, -c, "echo complete >\"$$STUDY_OUT/result.txt\" && exit 5"]'
check_eq "complete: the recorded reason is exactly the exit status" "$reason" "exit status 5"
check_eq "complete: no output digest is recorded" "$(sqlite3 "$DB" "SELECT
	coalesce(output_digest, 'none') FROM executions WHERE stage_id = 'data/victim'
	AND run_id = (SELECT max(id) FROM runs)")" none
# the tree it wrote, by hand (docs/store.md, "Recomputing a digest by hand")
obj=$(printf 'complete\n' | sha256sum | cut -c1-64)
tree=$(printf 'study-tree 1\nf %s 9 result.txt\n' "$obj" | sha256sum | cut -c1-64)
check "complete: its output tree is not in trees/ nor out/" \
	sh -c "[ ! -e '$S/trees/$(echo "$tree" | cut -c1-2)/$tree' ] && [ ! -e '$S/out/$tree' ]"
check "complete: its output file is not in objects/" \
	sh -c "[ ! -e '$S/objects/$(echo "$obj" | cut -c1-2)/$obj' ]"
ckey=$key
"$STUDY" run "$TMP/complete.yaml" --store "$S" >/dev/null 2>&1
check_eq "complete: the next run fails again (exit 1)" "$?" 1
check_eq "complete: the next run ran it again, it did not reuse it" "$(sqlite3 "$DB" "SELECT
	group_concat(status || ' ' || reason, ',') FROM executions WHERE cache_key = '$ckey'")" \
	"failed exit status 5,failed exit status 5"
check_eq "complete: still nothing in the cache under its key" \
	"$(find "$S/cache" -name "$ckey" | wc -l)" 0

run_fail signal '[stages/bin/toystage, crash, --signal, "11"]'
reason_has signal "killed by signal 11 (Segmentation fault)"
check "signal: the stage's stderr is shown" grep -q '| toystage: crashing on purpose' "$TMP/signal.err"

run_fail timeout '[stages/bin/toystage, sleep, --seconds, "30", --out, "${out}"]' \
	', resources: {time: 1}'
reason_has timeout "timed out after 1s (resources.time), killed"
check_eq "timeout: recorded as timed out" "$(sqlite3 "$DB" "SELECT timed_out FROM executions
	WHERE run_id = (SELECT max(id) FROM runs)")" 1
check "timeout: no process left" wait_no_procs "$S"

run_fail removed '[/bin/sh, -c, "rmdir \"$$STUDY_OUT\""]'
reason_has removed 'exit status 0 but ${out} is missing (the stage removed it)'

run_fail symlink '[/bin/sh, -c, "rmdir \"$$STUDY_OUT\" && ln -s /etc \"$$STUDY_OUT\""]'
reason_has symlink 'exit status 0 but ${out} is a symbolic link, not a directory'
check "symlink: the link's target is untouched" test -f /etc/passwd

run_fail file '[/bin/sh, -c, "rmdir \"$$STUDY_OUT\" && echo x >\"$$STUDY_OUT\""]'
reason_has file 'exit status 0 but ${out} is a file, not a directory'

run_fail empty '[stages/bin/toystage, empty]'
reason_has empty 'exit status 0 but ${out} is empty'

# an output with a symlink inside is refused as a whole
run_fail inner-link '[/bin/sh, -c, "echo a >\"$$STUDY_OUT/a\" && ln -s /etc/passwd \"$$STUDY_OUT/p\""]'
reason_has inner-link "is a symbolic link (only regular files and directories are allowed)"

# writing into an input: detected, failed, input repaired, producer reruns later
cat >"$TMP/tamper.yaml" <<YAML
study: tamper
root: $TOP
data:
  corpus: {run: [stages/bin/toystage, gen, --seed, "5", --n, "8", --out, "\${out}"]}
models:
  m: {run: [stages/bin/toystage, touch-input, --input, "\${data.corpus}", --out, "\${out}"]}
YAML
"$STUDY" run "$TMP/tamper.yaml" --store "$S" >"$TMP/tamper.out" 2>"$TMP/tamper.err"
check_eq "tamper: run exits 1" "$?" 1
check "tamper: the reason names the input and the file" \
	grep -q "failed  model/m.*input 'data.corpus' was modified while the stage ran (file '[^']*')" "$TMP/tamper.err"
check "tamper: the damaged object was removed" grep -q "damaged object removed from the store" "$TMP/tamper.err"
check_eq "tamper: no cache entry for the tampering stage" \
	"$(sqlite3 "$DB" "SELECT count(*) FROM executions WHERE stage_id = 'model/m' AND status = 'ran'")" 0
mkey=$(sqlite3 "$DB" "SELECT cache_key FROM executions WHERE stage_id = 'model/m'")
check "tamper: nothing in the cache under the tampering stage's key" \
	sh -c "[ -n '$mkey' ] && [ -z \"\$(find '$S/cache' -name '$mkey')\" ]"
"$STUDY" run "$TMP/tamper.yaml" --store "$S" >"$TMP/tamper2.out" 2>"$TMP/tamper2.err"
check "tamper: the next run reruns the damaged input's producer" grep -q 'ran .*data/corpus' "$TMP/tamper2.err"
sed 's/touch-input, --input/train, --size, "2", --data/' "$TMP/tamper.yaml" >"$TMP/benign.yaml"
"$STUDY" run "$TMP/benign.yaml" --store "$S" >/dev/null 2>"$TMP/benign.err"
check_eq "tamper: a well-behaved consumer of the repaired input succeeds" "$?" 0
check "tamper: the store is consistent again" store_check "$S"

# scratch in cwd/ and tmp/ is allowed and does not count as output
cat >"$TMP/scratch.yaml" <<YAML
study: scratch
root: $TOP
data:
  s: {run: [/bin/sh, -c, "echo a >scratch && echo b >\"\$\$TMPDIR/t\" && echo c >\"\$\$STUDY_OUT/o\""]}
YAML
"$STUDY" run "$TMP/scratch.yaml" --store "$S" >/dev/null 2>"$TMP/scratch.err"
check_eq "scratch files in cwd/ and \$TMPDIR are allowed" "$?" 0
check "the store is consistent after all failures" store_check "$S"
check "no temporaries are left" sh -c "[ -z \"\$(ls -A '$S/tmp')\" ]"

# store_check itself inspects every cache entry: on a copy, a link to a tree
# that does not exist, and a link that is not a digest, each fail it
cp -a "$S" "$TMP/bad"
l=$(find "$TMP/bad/cache" -type l | head -n 1)
check "store_check: the copy has a cache link to break" [ -n "$l" ]
ln -sfn sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA "$l"
check "store_check: a cache link to a missing tree fails it" \
	sh -c ". '$TOP/tests/e2e/reliability.sh'; ! store_check '$TMP/bad' >/dev/null"
ln -sfn not-a-digest "$l"
check "store_check: a cache link that names no digest fails it" \
	sh -c ". '$TOP/tests/e2e/reliability.sh'; ! store_check '$TMP/bad' >/dev/null"
done_testing
