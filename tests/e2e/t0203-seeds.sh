#!/bin/sh
# End to end: `seeds:` replicates every entry once per seed (ids @seedN,
# ${seed} and $STUDY_SEED the replicate's), `replicate: false` makes a world
# once for all seeds, the report receives every replicate with its seed
# (${evaluations.seeds}) and aggregates them; adding a seed runs only that
# seed's stages and the report.
. "$(dirname "$0")/lib.sh"
cd "$TMP" || exit 1
S="$TMP/store"
mk() { # mk SEEDS
	cat <<YAML
study: sd
root: $TOP
seed: 7
seeds: [$1]
data:
  world:
    run: [sh, -c, 'echo "\$1" >"\$2/world"', sh, "\${seed}", "\${out}"]
    replicate: false
models:
  m1:
    run: [sh, -c, 'cp "\$1/world" "\$3/"; echo "0.\$2" >"\$3/v"', sh, "\${data.world}", "\${seed}",
          "\${out}"]
methods:
  wo:
    run: [sh, -c, 'cp "\$1/world" "\$2/"; echo "0.9" >"\$2/v"', sh, "\${model}", "\${out}"]
evaluations:
  acc:
    run: [sh, -c, 'printf "{\"model\": \"%s\", \"variant\": \"%s\", \"evaluation\": \"acc\", \"metrics\": {\"acc\": {\"value\": %s}}}\n" "\$2" "\$3" "\$(cat "\$1/v")" >"\$4/metrics.json"',
          sh, "\${model}", "\${model.name}", "\${variant}", "\${out}"]
report:
  run: [stages/bin/study-report, --out, "\${out}", --seeds, "\${evaluations.seeds}",
        "\${evaluations}"]
YAML
}
mk "1, 2" >two.yaml
mk "1, 2, 3" >three.yaml
ids=$("$STUDY" dag two.yaml --format json | sed -n 's/^{"id":"\([^"]*\)".*/\1/p' | tr '\n' ' ')
check_eq "one stage per seed, ids ending in @seedN; the world once" "$ids" \
	"data/world model/m1@seed1 model/m1@seed2 method/wo/m1@seed1 method/wo/m1@seed2 eval/acc/m1/base@seed1 eval/acc/m1/base@seed2 eval/acc/m1/wo@seed1 eval/acc/m1/wo@seed2 report "
out=$("$STUDY" run two.yaml --store "$S" --json 2>err); rc=$?
check_eq "the seeded study runs" "$rc" 0
check_eq "... all 10 stages" "$(echo "$out" | json_field ran)" 10
check_eq "a replicate gets its seed in \$STUDY_SEED" \
	"$("$STUDY" show 'model/m1@seed2' --store "$S" | grep STUDY_SEED)" "  STUDY_SEED=2"
check_eq "... and in \${seed}" \
	"$("$STUDY" show 'model/m1@seed2' --store "$S" | sed -n '/^argv/,/^env/p' | sed -n 7p)" "  2"
check_eq "the world that runs once has the study's seed" \
	"$("$STUDY" show data/world --store "$S" | grep STUDY_SEED)" "  STUDY_SEED=7"
rep=$(ls "$S"/out/*/report.md)
check "the report says it aggregates two seeds" grep -q '^Replicated over 2 seeds (1, 2)' $rep
check_eq "... a cell is the mean and the standard deviation between seeds" \
	"$(grep '^| m1 |' $rep)" "| m1 | 0.150 ± 0.071 | 0.900 ± 0.000 |"
check_eq "... with one row per seed" "$(grep '^| m1 · seed' $rep | tr '\n' '/')" \
	"| m1 · seed 1 | 0.100 | 0.900 |/| m1 · seed 2 | 0.200 | 0.900 |/"

will=$("$STUDY" status three.yaml --store "$S" | awk '$1 == "will" {print $3}' | sort | tr '\n' ' ')
check_eq "one more seed: status lists only its stages and the report" "$will" \
	"eval/acc/m1/base@seed3 eval/acc/m1/wo@seed3 method/wo/m1@seed3 model/m1@seed3 report "
out=$("$STUDY" run three.yaml --store "$S" --json 2>/dev/null)
check_eq "adding a seed runs its 4 stages and the report" "$(echo "$out" | json_field ran)" 5
check_eq "... and takes the other 9 from the cache" "$(echo "$out" | json_field cached)" 9
rep=$("$STUDY" show report --store "$S" | awk '/^output/ { getline; print $1 }')
check_eq "the new report aggregates three seeds" "$(grep '^| m1 |' "$rep/report.md")" \
	"| m1 | 0.200 ± 0.100 | 0.900 ± 0.000 |"

# without --seeds the report refuses replicates rather than keep one of them
sed 's/--seeds, "\${evaluations.seeds}",//' two.yaml >noseeds.yaml
out=$("$STUDY" run noseeds.yaml --store "$S" --json 2>err)
check_eq "a report given replicates without their seeds fails" "$(echo "$out" | json_field failed)" 1
check "... saying why" grep -q "two evaluation outputs give metric 'acc' of model 'm1', variant 'base'; replicates need their seeds (--seeds)" err
done_testing
