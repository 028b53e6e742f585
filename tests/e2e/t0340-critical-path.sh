#!/bin/sh
# End to end: ready stages start by longest remaining path (critpath.h,
# docs/study-format.md "Scheduling"). With one slot the order of starts is
# exactly the order of priorities: with nothing recorded, the estimates
# (resources.time, else the same for all: plan order); once the stages ran,
# their recorded wall times (the longest first, though declared last); a
# seed never run takes its sibling's duration. The first stage to start is
# the first that must run in plan order (priorities are computed then, so
# that a run that starts nothing never reads durations). A no-op rerun and a
# dry run are unchanged.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
S="$TMP/store"
F="$TMP/f.yaml"
write_study() { # write_study SEEDS [SHORT_RESOURCES BIG_RESOURCES]
	cat >"$F" <<YAML
study: critical
root: $TOP
seeds: [$1]
data:
  world: {run: [$TOY, sleep, --seconds, "0.05", --out, "\${out}"], replicate: false}
  a: {run: [$TOY, sleep, --seconds, "0.05", --after, "\${data.world}", --out, "\${out}"]${2:-}}
  b: {run: [$TOY, sleep, --seconds, "0.05", --after, "\${data.world}", --out, "\${out}"]${2:-}}
  big: {run: [$TOY, sleep, --seconds, "0.6", --after, "\${data.world}", --out, "\${out}"]${3:-}}
YAML
}
starts() { # starts RUN: the stages that ran, in the order they started
	sqlite3 "$S/provenance.db" "SELECT stage_id FROM executions WHERE run_id = $1
		AND status = 'ran' ORDER BY started, id" | tr '\n' ' '
}

write_study 1
"$STUDY" run "$F" --store "$S" -j 1 >"$TMP/out" 2>"$TMP/err"
check_eq "first run" "$(cat "$TMP/out")" "run 1: ran 4, cached 0, failed 0"
check_eq "nothing recorded, no time limits: plan order" "$(starts 1)" \
	"data/world data/a@seed1 data/b@seed1 data/big@seed1 "

"$STUDY" run "$F" --store "$S" -j 1 --force '*' >"$TMP/out" 2>"$TMP/err"
check_eq "every stage again" "$(cat "$TMP/out")" "run 2: ran 4, cached 0, failed 0"
check_eq "durations recorded: the longest path first, though declared last" \
	"$(starts 2 | cut -d' ' -f1-2)" "data/world data/big@seed1"

"$STUDY" run "$F" --store "$S" -j 1 -v >"$TMP/out" 2>"$TMP/err"
check_eq "a no-op rerun" "$(tail -1 "$TMP/out")" "run 3: ran 0, cached 4, failed 0"
check_eq "... looks stages up in plan order" \
	"$(sqlite3 "$S/provenance.db" "SELECT stage_id FROM executions WHERE run_id = 3 ORDER BY id" |
	   tr '\n' ' ')" "data/world data/a@seed1 data/b@seed1 data/big@seed1 "
check_eq "a dry run lists in plan order" \
	"$("$STUDY" run "$F" --store "$S" -n -v --force '*' 2>&1 |
	   sed -n 's/.*would run *\([^:]*\):.*/\1/p' | tr '\n' ' ')" \
	"data/world data/a@seed1 data/b@seed1 data/big@seed1 "

# a second seed: its stages never ran; each takes its seed sibling's time
write_study "1, 2"
"$STUDY" run "$F" --store "$S" -j 1 >"$TMP/out" 2>"$TMP/err"
check_eq "a second seed" "$(cat "$TMP/out")" "run 4: ran 3, cached 4, failed 0"
check_eq "... the first to start: the first that must run, in plan order" \
	"$(starts 4 | cut -d' ' -f1)" "data/a@seed2"
check_eq "... then the new seed's stages by their sibling's durations" \
	"$(starts 4 | cut -d' ' -f2)" "data/big@seed2"

# nothing recorded (a new store): resources.time is the estimate
S="$TMP/store2"
write_study 1 ", resources: {time: 10s}" ", resources: {time: 1m}"
"$STUDY" run "$F" --store "$S" -j 1 >"$TMP/out" 2>"$TMP/err"
check_eq "fresh store, time limits" "$(cat "$TMP/out")" "run 1: ran 4, cached 0, failed 0"
check_eq "nothing recorded: the stage with the longest time limit first" "$(starts 1)" \
	"data/world data/big@seed1 data/a@seed1 data/b@seed1 "

# two slots: the long stage starts with the first short one, not after all
# of them (its start is before the last short stage's)
S="$TMP/store3"
write_study 1
"$STUDY" run "$F" --store "$S" -j 2 >/dev/null 2>&1
"$STUDY" run "$F" --store "$S" -j 2 --force '*' >"$TMP/out" 2>"$TMP/err"
check_eq "two slots" "$(cat "$TMP/out")" "run 2: ran 4, cached 0, failed 0"
check_eq "... the longest starts first after the root" "$(starts 2 | cut -d' ' -f1-2)" \
	"data/world data/big@seed1"
check "... and overlaps the short ones" test "$(sqlite3 "$S/provenance.db" \
	"SELECT count(*) FROM executions x, executions y WHERE x.run_id = 2 AND y.run_id = 2
	 AND x.stage_id = 'data/big@seed1' AND y.stage_id = 'data/b@seed1'
	 AND y.started < x.ended")" = 1
done_testing
