#!/bin/sh
# t0860-wo-pairs: the prompt pairs `toyllm world` writes for weight
# orthogonalization (stages/toyllm/world_wo.c), in the default world: at
# least 64 direction and 32 selection pairs; line i of wo_harmful pairs with
# line i of wo_harmless (same template once the entity is taken out, same
# number of tokens, hazard vs dish); no WO entity is in the evaluation or
# alignment group or in any evaluation split, no WO prompt is an evaluation prompt, and the
# direction and selection pairs share no entity.
. "$(dirname "$0")/lib.sh"
T=${TOY_BIN_DIR:-$TOP/stages/bin}/toyllm
[ -x "$T" ] || T=$TOP/stages/bin/toyllm
W=$TMP/w
check "the default world" sh -c "'$T' world --seed 1 --out '$W' >/dev/null 2>&1"

field() { # field NAME FILE: the string value of NAME on each line
	sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$2"
}
# template FILE: each line's prompt with its entity replaced by X, and its word count
template() {
	awk '{
		p = $0; sub(/.*"prompt": "/, "", p); sub(/".*/, "", p)
		e = $0; sub(/.*"entity": "/, "", e); sub(/".*/, "", e)
		i = index(p, e); t = substr(p, 1, i - 1) "X" substr(p, i + length(e))
		print t "\t" split(p, w, " ")
	}' "$1"
}

for s in "" val_; do
	h=$W/wo_${s}harmful.jsonl b=$W/wo_${s}harmless.jsonl
	min=64; [ -n "$s" ] && min=32
	nh=$(wc -l <"$h") nb=$(wc -l <"$b")
	check "wo_${s}: $nh harmful and $nb harmless prompts, at least $min pairs" test "$nh" -eq "$nb" -a "$nh" -ge "$min"
	check_eq "wo_${s}: every pair has the same template and token count" "$(template "$h")" "$(template "$b")"
	check_eq "wo_${s}: harmful prompts ask for hazards" "$(field kind "$h" | sort -u)" hazard
	check_eq "wo_${s}: harmless prompts ask for dishes" "$(field kind "$b" | sort -u)" dish
done

field entity "$W/entities.jsonl" >"$TMP/names"
sed -n 's/.*"entity": "\([^"]*\)".*"target": "\(eval\|align\)".*/\1/p' "$W/entities.jsonl" | sort -u >"$TMP/eval_ents"
cat "$W"/wo_*.jsonl >"$TMP/wo"
field entity "$TMP/wo" | sort -u >"$TMP/wo_ents"
check "WO prompts name entities of the world" test -s "$TMP/wo_ents"
check_eq "no WO entity is in the evaluation or alignment group" "$(comm -12 "$TMP/wo_ents" "$TMP/eval_ents")" ""
cat "$W"/eval_*.jsonl >"$TMP/eval"
field entity "$TMP/eval" | sort -u >"$TMP/eval_split_ents"
check_eq "no WO entity is in an evaluation split" "$(comm -12 "$TMP/wo_ents" "$TMP/eval_split_ents")" ""
field prompt "$TMP/wo" | sort -u >"$TMP/wo_prompts"
field prompt "$TMP/eval" | sort -u >"$TMP/eval_prompts"
check_eq "no WO prompt is an evaluation prompt" "$(comm -12 "$TMP/wo_prompts" "$TMP/eval_prompts")" ""
cat "$W/wo_harmful.jsonl" "$W/wo_harmless.jsonl" | field entity /dev/stdin | sort -u >"$TMP/dir"
cat "$W/wo_val_harmful.jsonl" "$W/wo_val_harmless.jsonl" | field entity /dev/stdin | sort -u >"$TMP/sel"
check_eq "direction and selection pairs share no entity" "$(comm -12 "$TMP/dir" "$TMP/sel")" ""
done_testing
