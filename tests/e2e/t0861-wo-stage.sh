#!/bin/sh
# t0861-wo-stage: `toyllm wo` on a tiny world and a 2-layer aligned model
# (whatever the outcome, the stage succeeds and wo.json is consistent with
# it): candidates only at block 1's input and the positions of <eoi> and
# <assistant>; "none" exactly when every candidate names a filter, and then
# model.bin is the input's; "selected" names one unfiltered candidate with
# the lowest refusal score among the unfiltered ones, and the model changes;
# --edit-embeddings is method wo_emb; byte-identical reruns; unmatched pair
# files are an error naming the file and line (exit 2).
. "$(dirname "$0")/lib.sh"
T=${TOY_BIN_DIR:-$TOP/stages/bin}/toyllm
[ -x "$T" ] || T=$TOP/stages/bin/toyllm
W=$TMP/w A=$TMP/a
SIZES="--things 20 --dishes 40 --hazards 40 --cyber 12 --unknowns 12 --triples 12 --jt-size 60 --jt-share 0.2"
"$T" world --seed 3 --out "$W" $SIZES >/dev/null 2>&1 &&
	"$T" pretrain --world "$W" --out "$TMP/p" --layers 2 --dim 16 --heads 2 --seq 32 --epochs 10 --seed 9 --no-checks >/dev/null 2>&1 &&
	"$T" align --model "$TMP/p" --world "$W" --out "$A" --epochs 12 --mix 0.5 >/dev/null 2>&1
check "a tiny world and a 2-layer aligned model" test -f "$A/model.bin"

# consistent DIR METHOD: checks DIR/wo.json against its own outcome
consistent() {
	d=$1 method=$2 j=$1/wo.json
	check "$method: exit 0, wo.json, metrics.json, model.bin" test -s "$j" -a -s "$d/metrics.json" -a -s "$d/model.bin"
	check "$method: method and edit_embeddings" grep -q "\"method\": \"$method\", \"edit_embeddings\": $([ "$method" = wo ] && echo false || echo true)" "$j"
	check "$method: the aligned model refuses, pairs are kept" grep -q '"direction": {"pairs": [0-9]*, "kept": [1-9]' "$j"
	grep '^  {"layer"' "$j" >"$TMP/cands"
	check_eq "$method: candidates at block 1 only, at <eoi> and <assistant>" \
		"$(sed 's/^  {"layer": \([0-9]*\), "position": \(-[0-9]*\), "token": "\([^"]*\)".*/\1 \2 \3/' "$TMP/cands" | tr '\n' ,)" \
		"1 -2 <eoi>,1 -1 <assistant>,"
	nfilt=$(grep -c '"filtered_by": \[\]' "$TMP/cands")
	outcome=$(sed -n 's/.*"outcome": "\([a-z]*\)".*/\1/p' "$j")
	if [ "$outcome" = none ]; then
		check_eq "$method: outcome none, every candidate names a filter" "$nfilt" 0
		check "$method: outcome none leaves model.bin as it was" cmp -s "$A/model.bin" "$d/model.bin"
		check "$method: no chosen candidate, no direction" grep -q '"chosen": null,' "$j"
	else
		check_eq "$method: outcome selected" "$outcome" selected
		check_eq "$method: exactly one candidate chosen, unfiltered" "$(grep -c '"filtered_by": \[\], "chosen": true' "$TMP/cands")" 1
		best=$(awk '/"filtered_by": \[\]/ { s = $0; sub(/.*"refusal_score": /, "", s); sub(/,.*/, "", s)
			if (!n++ || s + 0 < b) b = s + 0 } END { print b }' "$TMP/cands")
		ch=$(sed -n 's/.*"refusal_score": \([-0-9.]*\),.*"chosen": true.*/\1/p' "$TMP/cands")
		check_eq "$method: the chosen one has the lowest refusal score of the unfiltered" "$(awk -v a="$ch" 'BEGIN { print a + 0 }')" "$best"
		check "$method: the model changes" sh -c "! cmp -s '$A/model.bin' '$d/model.bin'"
	fi
	echo "# $method: outcome $outcome ($nfilt unfiltered)"
}

check "wo" "$T" wo --model "$A" --world "$W" --out "$TMP/wo" 2>"$TMP/err"
consistent "$TMP/wo" wo
check "wo again, 2 threads" env STUDY_THREADS=2 "$T" wo --model "$A" --world "$W" --out "$TMP/wo2" 2>/dev/null
for f in model.bin wo.json metrics.json; do
	check "wo: $f byte-identical on rerun" cmp -s "$TMP/wo/$f" "$TMP/wo2/$f"
done
check "wo --edit-embeddings" "$T" wo --model "$A" --world "$W" --edit-embeddings --out "$TMP/woe" 2>/dev/null
consistent "$TMP/woe" wo_emb

# an unmatched pair: a harmless prompt one word longer
cp -r "$W" "$TMP/bad"
sed '3s/"prompt": "\([^"]*\)"/"prompt": "\1 please"/' "$W/wo_harmless.jsonl" >"$TMP/bad/wo_harmless.jsonl"
"$T" wo --model "$A" --world "$TMP/bad" --out "$TMP/x" >/dev/null 2>"$TMP/err"
check_eq "unmatched pair: exit 2" "$?" 2
check "unmatched pair: the error names the files and line 3" grep -q "wo_harmful.jsonl line 3 has .* tokens and wo_harmless.jsonl line 3 has" "$TMP/err"
check "unmatched pair: nothing written" test ! -e "$TMP/x/wo.json"
done_testing
