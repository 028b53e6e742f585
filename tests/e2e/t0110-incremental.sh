#!/bin/sh
# End to end: editing one method's params reruns exactly that method's
# downstream stages; adding a model runs only that model's stages.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
copy_study studies/example.yaml "$TMP/study.yaml"
"$STUDY" run "$TMP/study.yaml" --store "$S" >/dev/null 2>&1
check_eq "baseline run succeeds" "$?" 0

# halve: factor 0.5 -> 0.25
sed 's/params: {factor: 0.5}/params: {factor: 0.25}/' "$TMP/study.yaml" >"$TMP/edited.yaml"
will=$("$STUDY" status "$TMP/edited.yaml" --store "$S" | awk '$1 == "will" {print $3}' | sort)
want=$(printf '%s\n' method/halve/small method/halve/large \
	mitigation/restore/halve/small mitigation/restore/halve/large \
	eval/accuracy/small/halve eval/accuracy/small/halve+restore \
	eval/drift/small/halve eval/drift/small/halve+restore \
	eval/accuracy/large/halve eval/accuracy/large/halve+restore \
	eval/drift/large/halve eval/drift/large/halve+restore report | sort)
check_eq "status lists exactly the halve method's downstream stages" "$will" "$want"
reason=$("$STUDY" status "$TMP/edited.yaml" --store "$S" | grep ' method/halve/small ')
check "status says the params changed" sh -c "echo '$reason' | grep -q 'changed: argv, params'"
out=$("$STUDY" run "$TMP/edited.yaml" --store "$S" --json 2>"$TMP/err")
check_eq "editing one method's params reruns 13 stages" "$(echo "$out" | json_field ran)" 13
check_eq "... and takes the other 13 from the cache" "$(echo "$out" | json_field cached)" 13
ran=$(grep '] ran ' "$TMP/err" | awk '{print $3}' | sort)
check_eq "the stages that ran are the ones status announced" "$ran" "$want"

# add a model
awk '{print} /^models:/ {print "  medium:\n    run: [stages/bin/toystage, train, --data, \"${data.corpus}\", --size, \"16\", --out, \"${out}\"]"}' \
	"$TMP/edited.yaml" >"$TMP/added.yaml"
out=$("$STUDY" run "$TMP/added.yaml" --store "$S" --json 2>"$TMP/err")
check_eq "adding a model runs 12 stages of its own plus the report" "$(echo "$out" | json_field ran)" 13
others=$(grep '] ran ' "$TMP/err" | awk '{print $3}' | grep -v '/medium' | tr '\n' ' ')
check_eq "... and nothing of the other models" "$others" "report "

out=$("$STUDY" run "$TMP/added.yaml" --store "$S" --json 2>/dev/null)
check_eq "rerun after the addition runs nothing" "$(echo "$out" | json_field ran)" 0
done_testing
