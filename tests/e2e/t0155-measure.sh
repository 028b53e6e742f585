#!/bin/sh
# End to end: what is recorded "of the stage" is the stage's alone. Peak RSS
# and CPU time come from the stage launcher's wait4 of the stage (not from an
# exec out of the orchestrator, which folded the orchestrator's ~12 MB into
# ru_maxrss), wall time is the stage's own, and the launcher changes nothing
# the stage sees or how it ends (exit status, signals, time limits, fds).
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
# field of `study show STAGE --json`: field STAGE NAME
field() {
	"$STUDY" show "$1" --store "$S" --json | sed -n "s/^[[:space:]]*\"$2\":[[:space:]]*\([^,]*\),*\$/\1/p" | head -n 1
}
in_range() { # in_range VALUE LOW HIGH (integers)
	[ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
cat >"$TMP/mem.yaml" <<YAML
study: measure
root: $TOP
data:
  tiny:
    run: [stages/bin/toystage, memhog, --mib, "1", --out, "\${out}"]
  big:
    run: [stages/bin/toystage, memhog, --mib, "64", --out, "\${out}"]
  nap:
    run: [sh, -c, 'sleep 0.3; echo x > "\$STUDY_OUT/x"']
  fds:
    run: [sh, -c, 'ls -l /proc/\$\$\$\$/fd > "\$STUDY_OUT/fds.txt"']
  code:
    run: [stages/bin/toystage, fail, --code, "7"]
  crash:
    run: [stages/bin/toystage, crash, --signal, "11"]
YAML
"$STUDY" run "$TMP/mem.yaml" --store "$S" -k >/dev/null 2>"$TMP/err"
check_eq "the study runs (two stages fail on purpose)" "$?" 1

tiny=$(field data/tiny peak_rss_kb)
big=$(field data/big peak_rss_kb)
check "1 MiB stage: recorded peak RSS under 4 MiB, not the orchestrator's (got $tiny KiB)" \
	in_range "$tiny" 1024 4096
check "64 MiB stage: recorded peak RSS within [64, 68] MiB (got $big KiB)" \
	in_range "$big" 65536 69632
if [ -x /usr/bin/time ]; then
	for n in 1 64; do
		mkdir -p "$TMP/t$n"
		t=$(/usr/bin/time -f %M stages/bin/toystage memhog --mib $n --out "$TMP/t$n" 2>&1 >/dev/null | tail -n 1)
		[ $n = 1 ] && got=$tiny || got=$big
		check "$n MiB stage: recorded peak matches /usr/bin/time ($got vs $t KiB, within 1 MiB)" \
			in_range "$got" $((t - 1024)) $((t + 1024))
	done
else
	ok "# SKIP /usr/bin/time not installed"
fi
cpu=$(field data/big cpu_s)
check "64 MiB stage: cpu time recorded and small (got $cpu s)" \
	awk -v c="$cpu" 'BEGIN { exit !(c != "" && c != "null" && c > 0 && c < 2) }'
wall=$(field data/nap wall_s)
check "a 0.3 s stage: wall time is the stage's (got $wall s)" \
	awk -v w="$wall" 'BEGIN { exit !(w >= 0.3 && w < 0.45) }'
sed -n 's/.* \([0-9]*\) -> \(.*\)/\1 \2/p' "$(ls "$S"/out/*/fds.txt)" >"$TMP/fds"
fdf=$TMP/fds
check "the only pipe the stage holds is fd 3 (the report pipe is not inherited)" \
	sh -c "[ \"\$(grep ' pipe:' '$fdf' | cut -d' ' -f1)\" = 3 ]"
check "fd 3 is the progress pipe" grep -q '^3 pipe:' "$fdf"
check_eq "exit status passes through the launcher" "$(field data/code exit_code)" 7
check "the reason names it" grep -q 'data/code.*exit status 7' "$TMP/err"
check_eq "a stage killed by a signal: exit_code -1" "$(field data/crash exit_code)" -1
check_eq "a stage killed by a signal: term_signal 11" "$(field data/crash term_signal)" 11
check "the reason names the signal" grep -q 'data/crash.*killed by signal 11' "$TMP/err"
check "a failed stage is measured too" in_range "$(field data/code peak_rss_kb)" 1 4096

# a stage that ignores TERM is killed at the end of the grace period; the
# launcher is outside the stage's group, survives the KILL and reports
cat >"$TMP/stub.yaml" <<YAML
study: stubborn
root: $TOP
data:
  stub:
    run: [sh, -c, 'trap "" TERM; sleep 30']
    resources: {time: 1s}
YAML
"$STUDY" run "$TMP/stub.yaml" --store "$S" >/dev/null 2>"$TMP/err2"
check "a stage ignoring TERM is killed after the grace period" grep -q 'timed out after 1s' "$TMP/err2"
check_eq "it is recorded as killed by SIGKILL" "$(field data/stub term_signal)" 9
check "its usage is still the stage's (the launcher survived)" in_range "$(field data/stub peak_rss_kb)" 1 4096
check "no stage process is left" sh -c "! pgrep -f 'sleep 30' -P 1 >/dev/null 2>&1 || ! pgrep -x -f 'sleep 30' >/dev/null"

# verify --rerun reports the stage's own seconds
out=$("$STUDY" verify --rerun data/nap --store "$S" --json)
secs=$(printf '%s\n' "$out" | sed -n 's/.*"seconds":[[:space:]]*\([0-9.e-]*\).*/\1/p' | head -n 1)
check "verify --rerun: the stage's own seconds (got $secs)" \
	awk -v w="$secs" 'BEGIN { exit !(w >= 0.3 && w < 0.45) }'
done_testing
