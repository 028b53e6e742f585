#!/bin/sh
# dag with targets prints the selected stages and the edges between them
# (docs/cli.md): an external input that no selected stage reads is not a
# node of that graph. Without targets every declared input is drawn.
. "$(dirname "$0")/lib.sh"
printf 'x\n' >"$TMP/a.txt"
mkdir "$TMP/dir"; printf 'y\n' >"$TMP/dir/y"
cat >"$TMP/s.yaml" <<YAML
study: daginputs
root: $TOP
inputs:
  a: {path: $TMP/a.txt}
  d: {path: $TMP/dir}
data:
  one: {run: [sh, -c, 'cat "\$0" >"\$1/x"', "\${inputs.a}", "\${out}"]}
  two: {run: [sh, -c, 'ls "\$0" >"\$1/x"', "\${inputs.d}", "\${out}"]}
  three: {run: [sh, -c, 'echo 3 >"\$0/x"', "\${out}"]}
YAML
check_eq "dot, one target: only the input it reads" "$("$STUDY" dag "$TMP/s.yaml" data/two)" \
'digraph "daginputs" {
  rankdir=LR;
  node [shape=box, fontsize=10];
  "input/d" [shape=folder];
  "data/two";
  "input/d" -> "data/two" [label="inputs.d"];
}'
check_eq "dot, a target that reads no input: no input node" \
	"$("$STUDY" dag "$TMP/s.yaml" data/three)" \
'digraph "daginputs" {
  rankdir=LR;
  node [shape=box, fontsize=10];
  "data/three";
}'
check_eq "json, one target: only the input it reads" \
	"$("$STUDY" dag "$TMP/s.yaml" data/one --format json)" \
"{\"study\":\"daginputs\",\"inputs\":[
{\"id\":\"input/a\",\"kind\":\"file\",\"path\":\"$TMP/a.txt\",\"sha256\":null}
],\"stages\":[
{\"id\":\"data/one\",\"kind\":\"data\",\"model\":null,\"variant\":null,\"method\":null,\"mitigation\":null,\"evaluation\":null,\"inputs\":[{\"name\":\"inputs.a\",\"stage\":\"input/a\"}]}
]}"
check_eq "json, no input read: no inputs member (as a study without inputs)" \
	"$("$STUDY" dag "$TMP/s.yaml" data/three --format json | head -1)" '{"study":"daginputs","stages":['
check_eq "no targets: every input" "$("$STUDY" dag "$TMP/s.yaml" | grep -c 'input/[ad]" \[shape')" 2
done_testing
