#!/bin/sh
# A target naming a stage of a study with seeds: without its '@seedN' it
# matches none of the replicates; the error suggests them all ('ID@*')
# rather than an unrelated group. Ids of stages that run once are unchanged.
. "$(dirname "$0")/lib.sh"
cat >"$TMP/s.yaml" <<YAML
study: seedhint
root: $TOP
seeds: [1, 2]
data:
  w: {run: [sh, -c, 'echo w >"\$0/x"', "\${out}"], replicate: false}
models:
  m4: {run: [sh, -c, 'echo m >"\$0/x"', "\${out}"]}
evaluations:
  acc: {run: [sh, -c, 'echo e >"\$1/x"', "\${model}", "\${out}"]}
YAML
"$STUDY" run "$TMP/s.yaml" model/m4 --store "$TMP/st" >"$TMP/out" 2>"$TMP/err"
check_eq "exit 2" "$?" 2
check_eq "model/m4: suggests its replicates" "$(cat "$TMP/err")" \
	"study: error: target 'model/m4' matches no stage of the study; did you mean 'model/m4@*'?"
check "nothing was run" test ! -e "$TMP/st"
check_eq "status: the same" "$("$STUDY" status "$TMP/s.yaml" eval/acc/m4/base 2>&1)" \
	"study: error: target 'eval/acc/m4/base' matches no stage of the study; did you mean 'eval/acc/m4/base@*'?"
check_eq "the suggestion works" "$("$STUDY" dag "$TMP/s.yaml" 'model/m4@*' | grep -c '^  "model/m4@seed[12]";')" 2
check_eq "a group without its star: as before" "$("$STUDY" dag "$TMP/s.yaml" eval/acc 2>&1)" \
	"study: error: target 'eval/acc' matches no stage of the study; did you mean 'eval/acc/*'?"
done_testing
