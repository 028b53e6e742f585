#!/bin/sh
# The embedded study end to end on studies/quick.yaml (two small models, short
# training): every stage runs, the report has every model x variant cell for
# every metric, `study results` shows the evaluation metrics, a rerun runs 0
# stages, and a copy of the study with a third model runs only that model's
# stages (model, 2 methods, 2 mitigations, 30 evaluations) and the report.
. "$(dirname "$0")/lib.sh"
cd "$TMP" || exit 1
copy_study "$TOP/studies/quick.yaml" quick.yaml

"$STUDY" run quick.yaml -j 2 --store "$TMP/store" >run1.out 2>&1
rc=$?
check_eq "quick.yaml runs" "$rc" 0
[ "$rc" -eq 0 ] || tail -20 run1.out | sed 's/^/#   /'
check "run 1 ran all 73 stages" grep -q "ran 73, cached 0, failed 0" run1.out

md=$(find "$TMP/store" -name report.md 2>/dev/null | head -n 1)
check "report.md exists in the store" test -s "$md"
for metric in refusal_rate refusal_rate_jailbreak hallucination_rate known_error_rate \
	benign_accuracy skill_accuracy perplexity malicious_success malicious_success_jailbreak \
	cyber_success cyber_success_jailbreak attack_success; do
	rows=$(awk -v m="$metric" '
		/^#/ { inside = (index($0, m) > 0 && index($0, m "_") == 0) }
		inside && /^\| m[12] \|/ { n = 0; for (i = 3; i <= NF; i++) if ($i != "" && $i != " – ") n++; if (n == 5) good++ }
		END { print good + 0 }' FS='|' "$md")
	check_eq "report: $metric has m1 and m2 with all five variants" "$rows" 2
done
check "report: findings section" grep -qi "finding" "$md"

"$STUDY" results --store "$TMP/store" >results.out 2>&1
check_eq "study results exits 0" "$?" 0
check "study results shows refusal_rate" grep -q "refusal_rate" results.out
check "study results shows attack_success for wo+sft" grep -q "wo+sft" results.out

"$STUDY" run quick.yaml -j 2 --store "$TMP/store" >run2.out 2>&1
check_eq "the rerun succeeds" "$?" 0
check "a rerun runs 0 stages" grep -q "ran 0, cached 73, failed 0" run2.out

# a third model in a copy of the study
awk '{ print } /^models:/ { print "  m3:"; print "    run: [stages/bin/toyllm, model, --world, \"${data.world}\", --layers, 1, --dim, 16, --heads, 2, --pretrain-epochs, 4, --no-checks, --align-epochs, 2, --out, \"${out}\"]"; print "    resources: {cpus: 1, time: 5m}" }' quick.yaml >three.yaml
"$STUDY" run three.yaml -j 2 --store "$TMP/store" >run3.out 2>&1
check_eq "the three-model copy runs" "$?" 0
check "only the new model's 35 stages and the report run (the old report is replaced)" grep -q "ran 36, cached 72, failed 0" run3.out
check "none of m1's or m2's stages ran again" sh -c "! grep -E '(ran|start) +[a-z]+/([a-z]+/)?m[12]\\b' run3.out"
[ "$FAILS" -eq 0 ] || { for f in run1.out run2.out run3.out; do echo "# $f:"; tail -5 $f | sed "s/^/#   /"; done; }
done_testing
