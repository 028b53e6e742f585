#!/bin/sh
# study results with seeds: each replicate's metrics are a row of their own,
# and the text table (and --compare) show the seed, so that two rows of one
# cell can be told apart. A study without seeds prints the table as before
# (no SEED column).
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
cat >"$TMP/s.yaml" <<YAML
study: seedtab
root: $TOP
seeds: [1, 7]
data:
  d:
    run: [sh, -c, 'echo "{\"rows\": 5}" >"\$0/metrics.json"', "\${out}"]
    replicate: false
models:
  m: {run: [sh, -c, 'echo m >"\$0/m"', "\${out}"]}
evaluations:
  e: {run: [sh, -c, 'echo "{\"score\": \$STUDY_SEED}" >"\$1/metrics.json"', "\${model}", "\${out}"]}
YAML
"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>&1
check_eq "the table has a SEED column; a stage that runs once has none" \
	"$("$STUDY" results --store "$S")" \
"EVALUATION  MODEL  VARIANT  SEED  METRIC  VALUE  N  95% CI
-           -      -        -     rows    5.000  -  -
e           m      base     1     score   1.000  -  -
e           m      base     7     score   7.000  -  -"

sed -i 's/seeds: \[1, 7\]/seeds: [1, 7, 9]/' "$TMP/s.yaml"
"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>&1
check_eq "--compare: the seed too, and a new seed's row only in the new run" \
	"$("$STUDY" results --store "$S" --compare 1 2)" \
"EVALUATION  MODEL  VARIANT  SEED  METRIC  RUN 1  95% CI  RUN 2  95% CI  RUN 2 - RUN 1
-           -      -        -     rows    5.000  -       5.000  -               0.000
e           m      base     1     score   1.000  -       1.000  -               0.000
e           m      base     7     score   7.000  -       7.000  -               0.000
e           m      base     9     score       -  -       9.000  -       only in run 2"

# without seeds: no SEED column
S2="$TMP/store2"
sed -e '/^seeds:/d' -e '/replicate: false/d' "$TMP/s.yaml" >"$TMP/plain.yaml"
"$STUDY" run "$TMP/plain.yaml" --store "$S2" >/dev/null 2>&1
check_eq "no seeds: the table as before" "$("$STUDY" results --store "$S2")" \
"EVALUATION  MODEL  VARIANT  METRIC  VALUE  N  95% CI
-           -      -        rows    5.000  -  -
e           m      base     score   0.000  -  -"
done_testing
