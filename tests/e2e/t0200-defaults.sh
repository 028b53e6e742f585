#!/bin/sh
# End to end: `defaults:` at the top level and per section are merged into
# every entry (params and resources key by key, the entry winning); editing a
# default reruns exactly the stages of the entries that take it; an error in
# a default points at the defaults block and names the entry it broke.
. "$(dirname "$0")/lib.sh"
cd "$TMP" || exit 1
S="$TMP/store"
cat >df.yaml <<YAML
study: df
root: $TOP
defaults:
  resources: {time: 1m}
  params: {n: 16}
data:
  corpus: {run: [stages/bin/toystage, gen, --seed, "\${seed}", --n, "\${params.n}", --out, "\${out}"]}
models:
  defaults:
    run: [stages/bin/toystage, train, --data, "\${data.corpus}", --size, "\${params.size}",
          --out, "\${out}"]
    params: {size: 4}
  small: {}
  large: {params: {size: 16}}
evaluations:
  defaults:
    run: [stages/bin/toystage, score, --model, "\${model}", --task, "\${evaluation.name}",
          --out, "\${out}"]
  a: {}
  b: {}
report:
  run: [stages/bin/toystage, report, --out, "\${out}", "\${evaluations}"]
YAML
out=$("$STUDY" run df.yaml --store "$S" --json 2>err); rc=$?
check_eq "a study with defaults runs" "$rc" 0
check_eq "... all of its 8 stages" "$(echo "$out" | json_field ran)" 8
show=$("$STUDY" show model/large --store "$S")
check "the entry's own param wins over the default" sh -c "echo '$show' | grep -qx '  --size'"
check_eq "... argv has --size 16" "$(echo "$show" | sed -n '/^  --size$/{n;p}')" "  16"
check_eq "... and \$STUDY_PARAMS merges top-level, section and entry params" \
	"$(echo "$show" | grep STUDY_PARAMS)" '  STUDY_PARAMS={"n":16,"size":16}'
check_eq "the top-level param reaches data" \
	"$("$STUDY" show data/corpus --store "$S" | grep STUDY_PARAMS)" '  STUDY_PARAMS={"n":16}'

# a section default changes: only the entries that take it rerun
sed 's/params: {size: 4}/params: {size: 6}/' df.yaml >df2.yaml
will=$("$STUDY" status df2.yaml --store "$S" | awk '$1 == "will" {print $3}' | sort | tr '\n' ' ')
check_eq "status: the default's entry and what depends on it" "$will" \
	"eval/a/small/base eval/b/small/base model/small report "
out=$("$STUDY" run df2.yaml --store "$S" --json 2>/dev/null)
check_eq "editing a default reruns 4 stages" "$(echo "$out" | json_field ran)" 4
check_eq "... and takes the other 4 from the cache" "$(echo "$out" | json_field cached)" 4

# an error in a default: the defaults line, and the entry it broke
sed 's/"\${params.size}",/"${params.size}", --depth, "${params.depth}",/; s/large: {params: {size: 16}}/large: {params: {size: 16, depth: 2}}/' \
	df.yaml >bad.yaml
"$STUDY" dag bad.yaml >/dev/null 2>err; rc=$?
check_eq "a default that does not fit an entry is rejected with exit 2" "$rc" 2
check_eq "... at the position in the defaults block, naming the entry" "$(head -n 1 err)" \
	"study: error: bad.yaml:10:101: unknown parameter 'depth' in '\${params.depth}' (a default, for models entry 'small')"
check_eq "... with the source line" "$(sed -n 2p err)" \
	'    run: [stages/bin/toystage, train, --data, "${data.corpus}", --size, "${params.size}", --depth, "${params.depth}",'
check_eq "... and a caret under the variable" "$(sed -n 3p err | tr -d '\n' | wc -c)" 101
before=$("$STUDY" log --store "$S" | wc -l)
"$STUDY" run bad.yaml --store "$S" >/dev/null 2>&1; rc=$?
check_eq "run refuses it with exit 2" "$rc" 2
check_eq "... and records no run" "$("$STUDY" log --store "$S" | wc -l)" "$before"
done_testing
