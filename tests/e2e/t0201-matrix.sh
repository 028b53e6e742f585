#!/bin/sh
# End to end: a `matrix:` entry makes one entry per combination of its axes,
# with stable, readable ids (NAME-AXISVALUE..., or a `name:` template) and
# ${matrix.AXIS} in run and params; adding a value to an axis runs only the
# new combinations' stages (and the report), every other key is unchanged.
. "$(dirname "$0")/lib.sh"
cd "$TMP" || exit 1
S="$TMP/store"
mk() { # mk SIZES
	cat <<YAML
study: mx
root: $TOP
data:
  corpus: {run: [stages/bin/toystage, gen, --seed, "\${seed}", --n, 16, --out, "\${out}"]}
models:
  m:
    run: [stages/bin/toystage, train, --data, "\${data.corpus}", --size, "\${matrix.size}",
          --steps, "\${params.steps}", --out, "\${out}"]
    matrix: {size: [$1], steps: [2]}
    params: {steps: "\${matrix.steps}", label: "s\${matrix.size}"}
methods:
  scale:
    run: [stages/bin/toystage, transform, --model, "\${model}", --factor, "\${matrix.f}",
          --out, "\${out}"]
    matrix: {f: [0.5, 2]}
    name: "x\${matrix.f}"
evaluations:
  score:
    run: [stages/bin/toystage, score, --model, "\${model}", --task, "\${evaluation.name}",
          --out, "\${out}"]
report:
  run: [stages/bin/toystage, report, --out, "\${out}", "\${evaluations}"]
YAML
}
mk "4, 8" >a.yaml
mk "4, 8, 16" >b.yaml
ids=$("$STUDY" dag a.yaml --format json | sed -n 's/^{"id":"\([^"]*\)".*/\1/p' | tr '\n' ' ')
check_eq "ids name each combination" "$ids" "data/corpus model/m-size4-steps2 method/x0.5/m-size4-steps2 method/x2/m-size4-steps2 eval/score/m-size4-steps2/base eval/score/m-size4-steps2/x0.5 eval/score/m-size4-steps2/x2 model/m-size8-steps2 method/x0.5/m-size8-steps2 method/x2/m-size8-steps2 eval/score/m-size8-steps2/base eval/score/m-size8-steps2/x0.5 eval/score/m-size8-steps2/x2 report "
out=$("$STUDY" run a.yaml --store "$S" --json 2>/dev/null); rc=$?
check_eq "the matrix study runs" "$rc" 0
check_eq "... all 14 stages" "$(echo "$out" | json_field ran)" 14
show=$("$STUDY" show model/m-size8-steps2 --store "$S")
check_eq "\${matrix.size} is the combination's value in argv" \
	"$(echo "$show" | sed -n '/^  --size$/{n;p}')" "  8"
check_eq "... and in params, typed (a whole value) or as text (inside one)" \
	"$(echo "$show" | grep STUDY_PARAMS)" '  STUDY_PARAMS={"label":"s8","steps":2}'
check_eq "a name template names the method's entries" \
	"$("$STUDY" show method/x0.5/m-size4-steps2 --store "$S" | sed -n '/^  --factor$/{n;p}')" "  0.5"

will=$("$STUDY" status b.yaml --store "$S" | awk '$1 == "will" {print $3}' | sort | tr '\n' ' ')
check_eq "one more value: status lists only its combination's stages and the report" "$will" \
	"eval/score/m-size16-steps2/base eval/score/m-size16-steps2/x0.5 eval/score/m-size16-steps2/x2 method/x0.5/m-size16-steps2 method/x2/m-size16-steps2 model/m-size16-steps2 report "
out=$("$STUDY" run b.yaml --store "$S" --json 2>err)
check_eq "adding a value runs its 6 stages and the report" "$(echo "$out" | json_field ran)" 7
check_eq "... and takes the other 13 from the cache" "$(echo "$out" | json_field cached)" 13
check_eq "... nothing of the other combinations ran" \
	"$(grep '] ran ' err | awk '{print $3}' | grep -v 'size16' | tr '\n' ' ')" "report "
out=$("$STUDY" run a.yaml --store "$S" --json 2>/dev/null)
check_eq "removing the value again runs nothing (its report is in the cache)" "$(echo "$out" | json_field ran)" 0
done_testing
