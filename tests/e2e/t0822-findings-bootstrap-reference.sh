#!/bin/sh
# t0822-findings-bootstrap-reference: the report's pooled paired effect and
# two-stage cluster bootstrap (stages/report/stats.c) against an independent
# reference written here in Python with numpy (another generator, 20,000
# replicates): 2 models x 3 seeds, 60 clusters of 1-4 items, heterogeneous
# effects per cluster and per seed. The point estimate must agree to 3
# decimals, the interval's ends within 0.012 (Monte Carlo error of 2,000
# replicates), and the between-seed sd exactly.
. "$(dirname "$0")/lib.sh"
REPORT=${TOY_BIN_DIR:-$TOP/stages/bin}/study-report
[ -x "$REPORT" ] || REPORT=$TOP/stages/bin/study-report
PY=/usr/bin/python3
if ! "$PY" -c 'import numpy' 2>/dev/null; then
	echo "ok - bootstrap reference # SKIP /usr/bin/python3 has no numpy"
	exit 0
fi
cd "$TMP" || exit 1

# gen DIR MODEL VARIANT SEED P: items of 60 clusters (cluster c has 1 + c % 4
# items), value 1 with a probability that depends on the cluster, the seed and P
gen() {
	mkdir -p "$1"
	awk -v m="$2" -v v="$3" -v s="$4" -v p="$5" -v d="$1" 'BEGIN {
		srand(s * 1000 + length(v) * 7 + (m == "a" ? 1 : 2)); n = 0; k = 0
		for (c = 0; c < 60; c++)
			for (i = 0; i <= c % 4; i++) {
				q = p + 0.3 * ((c * 37 + s * 11) % 7) / 7 - 0.15
				x = rand() < q ? 1 : 0
				printf "{\"id\": \"q%d-%d\", \"cluster\": \"e%d\", \"values\": {\"refusal_rate\": %d}}\n", c, i, c, x > (d "/items.jsonl")
				n++; k += x
			}
		printf "{\"model\": \"%s\", \"variant\": \"%s\", \"evaluation\": \"refusal\", \"metrics\": {\"refusal_rate\": {\"value\": %.6f, \"n\": %d, \"k\": %d}}}\n", m, v, k / n, n, k > (d "/metrics.json")
	}'
}
dirs="" seeds=""
for s in 1 2 3; do
	for m in a b; do
		gen "in/$s-$m-base" $m base $s 0.8
		gen "in/$s-$m-wo" $m wo $s $(awk -v s=$s 'BEGIN { print 0.45 + 0.1 * s }')
		dirs="$dirs in/$s-$m-base in/$s-$m-wo" seeds="$seeds,$s,$s"
	done
done
mkdir -p out
"$REPORT" --out out --seeds "${seeds#,}" $dirs 2>err
check_eq "the report succeeds" "$?" 0
got=$(sed -n 's/.*"label": "wo vs base: refusal", .*"effect": \([-0-9.]*\), "ci_low": \([-0-9.]*\), "ci_high": \([-0-9.]*\), .*"seed_sd": \([-0-9.]*\),.*/\1 \2 \3 \4/p' out/report.json)
ref=$("$PY" - in <<'PYEOF'
import json, os, sys
import numpy as np
root = sys.argv[1]
cells = {}  # model -> list of (sums, counts, est)
for name in sorted(os.listdir(root)):
    s, m, v = name.split('-')
    if v != 'wo':
        continue
    def load(var):
        out = {}
        for line in open(os.path.join(root, f'{s}-{m}-{var}', 'items.jsonl')):
            o = json.loads(line)
            out[o['id']] = (o['cluster'], o['values']['refusal_rate'])
        return out
    a, b = load('wo'), load('base')
    cl = {}
    for i, (c, x) in a.items():
        if i in b:
            t = cl.setdefault(c, [0.0, 0])
            t[0] += x - b[i][1]
            t[1] += 1
    sums = np.array([cl[c][0] for c in sorted(cl)])
    cnts = np.array([cl[c][1] for c in sorted(cl)])
    cells.setdefault(m, []).append((s, sums, cnts, sums.sum() / cnts.sum()))
models = sorted(cells)
est = np.mean([np.mean([c[3] for c in cells[m]]) for m in models])
per_seed = {}
for m in models:
    for s, _, _, e in cells[m]:
        per_seed.setdefault(s, []).append(e)
seed_sd = np.std([np.mean(v) for v in per_seed.values()], ddof=1)
rng = np.random.default_rng(12345)
B = 20000
total = np.zeros(B)
for m in models:
    cs = cells[m]
    pick = rng.integers(0, len(cs), size=(B, len(cs)))  # seeds resampled
    acc = np.zeros(B)
    for j in range(len(cs)):
        for k, (_, sums, cnts, _) in enumerate(cs):
            rows = np.nonzero(pick[:, j] == k)[0]
            if rows.size == 0:
                continue
            idx = rng.integers(0, len(sums), size=(rows.size, len(sums)))
            acc[rows] += sums[idx].sum(1) / cnts[idx].sum(1)
    total += acc / len(cs)
total /= len(models)
print("%.6f %.6f %.6f %.6f" % (est, np.percentile(total, 2.5), np.percentile(total, 97.5), seed_sd))
PYEOF
)
echo "# report:    $got"
echo "# reference: $ref"
check "the reference ran" test -n "$ref"
check "the report gives the numbers" test -n "$got"
cmp3() { awk -v a="$1" -v b="$2" -v tol="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= tol) }'; }
[ -n "$got" ] && [ -n "$ref" ] || { done_testing; exit 1; }
set -- $got $ref
check "pooled effect as the reference ($1 vs $5)" cmp3 "$1" "$5" 0.0005
check "interval low end within 0.012 of the reference ($2 vs $6)" cmp3 "$2" "$6" 0.012
check "interval high end within 0.012 of the reference ($3 vs $7)" cmp3 "$3" "$7" 0.012
check "between-seed sd as the reference ($4 vs $8)" cmp3 "$4" "$8" 0.0005
check "the interval is not degenerate (wider than 0.05)" awk -v a="$2" -v b="$3" 'BEGIN { exit !(b - a > 0.05) }'
done_testing
