#!/bin/sh
# End to end: resources.mem on the local executor (issue 13). A stage that
# uses more than its mem is stopped and recorded as "over memory limit"
# (over_memory 1, with the mechanism that enforced it); one within it runs.
# Stages whose mem add up to more than --mem-limit never run at the same
# time (their recorded start and end times do not overlap), and do when the
# limit holds both. A stage asking for more than --mem-limit (or the machine)
# is refused before anything runs, with --dry-run too; a bad --mem-limit is
# a usage error.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
q() { sqlite3 "$1/provenance.db" "$2"; }

# 1. over and within the limit (the toy stage touches --mib MiB)
cat >"$TMP/m.yaml" <<YAML
study: mem
root: $TOP
data:
  hog:
    run: ["$TOY", memhog, --mib, "300", --out, "\${out}"]
    resources: {mem: 10M}
  fits:
    run: ["$TOY", memhog, --mib, "4", --out, "\${out}"]
    resources: {mem: 64M}
YAML
"$STUDY" run "$TMP/m.yaml" --store "$TMP/s1" -k >"$TMP/out" 2>"$TMP/err"
check_eq "a stage over its mem fails the run" "$?" 1
check_eq "... the run: one ran, one failed" "$(cat "$TMP/out" | sed 's/^run [0-9]*: //')" \
	"ran 1, cached 0, failed 1"
reason=$(q "$TMP/s1" "SELECT reason FROM executions WHERE stage_id = 'data/hog'")
check "its reason is 'over memory limit (resources.mem 10M; ...)' (got: $reason)" \
	sh -c "printf '%s' '$reason' | grep -qE '^over memory limit \\(resources\\.mem 10M; (peak resident memory|peak memory) [0-9.]+M\\)(, killed)?\$'"
check_eq "over_memory is recorded" \
	"$(q "$TMP/s1" "SELECT over_memory || ' ' || status FROM executions WHERE stage_id = 'data/hog'")" \
	"1 failed"
how=$(q "$TMP/s1" "SELECT mem_enforcement FROM executions WHERE stage_id = 'data/hog'")
check "... and how the limit was enforced (got: $how)" \
	sh -c "[ '$how' = watchdog ] || [ '$how' = cgroup ]"
check_eq "the stage within its mem ran" \
	"$(q "$TMP/s1" "SELECT status || ' ' || over_memory || ' ' || mem_enforcement FROM executions WHERE stage_id = 'data/fits'")" \
	"ran 0 $how"
check "the failure is printed with its reason" grep -q 'failed  data/hog .*over memory limit (resources.mem 10M' "$TMP/err"
check_eq "no output is kept for it" \
	"$(q "$TMP/s1" "SELECT count(output_digest) FROM executions WHERE stage_id = 'data/hog'")" 0

# 2. two stages of 60M each: never together under --mem-limit 100M
cat >"$TMP/p.yaml" <<YAML
study: pool
root: $TOP
data:
  a: {run: ["$TOY", sleep, --seconds, "0.8", --out, "\${out}"], resources: {mem: 60M}}
  b: {run: ["$TOY", sleep, --seconds, "0.8", --out, "\${out}"], resources: {mem: 60M}}
YAML
apart() { # apart STORE: "yes" when a and b ran one after the other
	q "$1" "SELECT CASE WHEN a.ended <= b.started OR b.ended <= a.started THEN 'yes' ELSE 'no' END
		FROM executions a, executions b WHERE a.stage_id = 'data/a' AND b.stage_id = 'data/b'"
}
"$STUDY" run "$TMP/p.yaml" --store "$TMP/s2" -j 2 --mem-limit 100M >/dev/null 2>&1
check_eq "--mem-limit 100M: the run succeeds" "$?" 0
check_eq "... and two stages of 60M never overlap (recorded start and end times)" \
	"$(apart "$TMP/s2")" yes
"$STUDY" run "$TMP/p.yaml" --store "$TMP/s3" -j 2 --mem-limit 120M >/dev/null 2>&1
check_eq "--mem-limit 120M holds both: they run at the same time" "$(apart "$TMP/s3")" no

# 3. more than a stage can ever get: refused before anything runs
cat >"$TMP/big.yaml" <<YAML
study: big
root: $TOP
data:
  a:
    run: ["$TOY", sleep, --seconds, "0", --out, "\${out}"]
    resources: {mem: 2G}
YAML
"$STUDY" run "$TMP/big.yaml" --store "$TMP/s4" --mem-limit 1G >/dev/null 2>"$TMP/err"
check_eq "mem: 2G with --mem-limit 1G: exit 2" "$?" 2
check_eq "... with the exact message" "$(cat "$TMP/err")" \
	"study: error: $TMP/big.yaml:6:22: stage 'data/a' asks for 2G of memory (resources.mem), but --mem-limit 1G is the memory of all running stages"
check "... before the store is touched" test ! -e "$TMP/s4"
"$STUDY" run "$TMP/big.yaml" --store "$TMP/s4" --mem-limit 1G --dry-run >/dev/null 2>"$TMP/err2"
check_eq "--dry-run refuses it the same way" "$?:$(cat "$TMP/err2")" "2:$(cat "$TMP/err")"
sed 's/mem: 2G/mem: 1000T/' "$TMP/big.yaml" >"$TMP/huge.yaml"
"$STUDY" run "$TMP/huge.yaml" --store "$TMP/s4" >/dev/null 2>"$TMP/err"
check "without --mem-limit, the machine's memory is the limit" \
	grep -q "^study: error: $TMP/huge.yaml:6:22: stage 'data/a' asks for 1000T of memory (resources.mem), but this machine has [0-9.]*G of memory (--mem-limit sets another limit)\$" "$TMP/err"

# 4. a bad --mem-limit
for v in 0 12X -5 1.5G ""; do
	"$STUDY" run "$TMP/big.yaml" --store "$TMP/s4" --mem-limit "$v" >/dev/null 2>"$TMP/err"
	check_eq "--mem-limit '$v': exit 2 and the message" "$?:$(head -1 "$TMP/err")" \
		"2:study: error: --mem-limit wants a size: bytes, or an integer with suffix K, M, G or T (e.g. 512M, 16G), not '$v'"
done
done_testing
