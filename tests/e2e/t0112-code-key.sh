#!/bin/sh
# Regression (issue 11, kind 1): every program a stage executes is in its
# cache key. argv[0] inside the root always was; now also every word of an
# argument that names a regular file inside the study root: the programs of
# a `sh -c` string, a script given to an interpreter, `--opt=${root}/file`.
# A shell or interpreter that runs a script named by a path resolved only at
# run time is a load-time warning (docs/study-format.md, "What is in the cache
# key").
. "$(dirname "$0")/lib.sh"
R="$TMP/root"
mkdir -p "$R/bin" "$R/scripts"
cp "$TOP/stages/bin/toystage" "$R/bin/toystage"
printf '#!/bin/sh\necho v1 >"$1/step.txt"\n' >"$R/scripts/step.sh"
cat >"$R/s.yaml" <<YAML
study: code-key
root: $R
data:
  shell:
    run: [sh, -c, "\${root}/bin/toystage gen --seed 1 --n 4 --out '\${out}'"]
  script:
    run: [sh, "\${root}/scripts/step.sh", "\${out}"]
  flag:
    run: [sh, -c, 'sh \${root}/scripts/step.sh "\$0"; : --config=\${root}/scripts/step.sh', "\${out}"]
YAML
run() { "$STUDY" run "$R/s.yaml" --store "$R/st" -v -j 1 >"$TMP/out" 2>"$TMP/err"; }
run
check_eq "first run" "$(cat "$TMP/out")" "run 1: ran 3, cached 0, failed 0"
run
check_eq "no-op" "$(cat "$TMP/out")" "run 2: ran 0, cached 3, failed 0"

rec() { sqlite3 "$R/st/provenance.db" "SELECT json_extract(cache_record, '\$.code') FROM executions
	WHERE stage_id = '$1' AND status = 'ran' ORDER BY id DESC LIMIT 1"; }
tool=$(sha256sum "$R/bin/toystage" | cut -d' ' -f1)
step=$(sha256sum "$R/scripts/step.sh" | cut -d' ' -f1)
check_eq "the program inside 'sh -c' is in the record's code" "$(rec data/shell)" \
	"{\"bin/toystage\":\"$tool\"}"
check_eq "a script given to an interpreter is in the record's code" "$(rec data/script)" \
	"{\"scripts/step.sh\":\"$step\"}"
check_eq "words split at quotes, ';' and '=' are found too" "$(rec data/flag)" \
	"{\"scripts/step.sh\":\"$step\"}"

# the issue's example: the program is rebuilt; the stage that runs it through
# a shell must run again (it was reported 'cached' on the stale program)
printf '\n' >>"$R/bin/toystage"
run
check_eq "a rebuilt program reruns the stage that runs it through sh -c" "$(cat "$TMP/out")" \
	"run 3: ran 1, cached 2, failed 0"
check "... and it is data/shell that ran" grep -q 'ran     data/shell' "$TMP/err"

printf '#!/bin/sh\necho v2 >"$1/step.txt"\n' >"$R/scripts/step.sh"
run
check_eq "an edited script reruns the stages that name it" "$(cat "$TMP/out")" \
	"run 4: ran 2, cached 1, failed 0"
check "... the interpreter's script and the word after --config=" \
	sh -c "grep -q 'ran     data/script' '$TMP/err' && grep -q 'ran     data/flag' '$TMP/err'"

# load-time warnings: a script named relatively, a module; none for inline code
cat >"$R/w.yaml" <<YAML
study: warn
root: $R
data:
  rel: {run: [sh, scripts/step.sh, "\${out}"]}
  mod: {run: [python3, -m, mypkg.train, "\${out}"]}
  inline: {run: [sh, -c, 'echo x >"\$STUDY_OUT/x"']}
  listed: {run: [sh, scripts/step.sh, "\${out}"], code: [scripts/step.sh]}
YAML
"$STUDY" status "$R/w.yaml" --store "$R/st" >/dev/null 2>"$TMP/err"
check_eq "warnings name the file, line and column, the script, and the fix" "$(cat "$TMP/err")" \
"study: warning: $R/w.yaml:4:15: 'sh' runs 'scripts/step.sh', which is looked up when the stage runs and is not in its cache key: a change to it will not rerun the stage; name it as \"\${root}/...\" or list it under code:
study: warning: $R/w.yaml:5:15: 'python3' runs 'mypkg.train', which is looked up when the stage runs and is not in its cache key: a change to it will not rerun the stage; name it as \"\${root}/...\" or list it under code:"
"$STUDY" dag "$R/w.yaml" >/dev/null 2>"$TMP/err2"
check_eq "dag warns the same" "$(cat "$TMP/err2")" "$(cat "$TMP/err")"

# more members of the kind: a root whose path has a space (the whole argument
# is a path), lists, a joined short option, an env: value naming a script
Q="$TMP/with space"
mkdir -p "$Q" "$TMP/l"
for f in a b c p; do printf '#!/bin/sh\necho %s1 >>"$STUDY_OUT/r.txt"\n' "$f" >"$TMP/l/$f.sh"; done
cp "$TMP/l/a.sh" "$Q/a.sh"
cat >"$Q/s.yaml" <<YAML
study: space
root: .
data:
  space: {run: [sh, "\${root}/a.sh"]}
YAML
cat >"$TMP/l/s.yaml" <<YAML
study: more
root: .
data:
  list: {run: [sh, -c, 'for f in \$(echo "\$1" | tr , " "); do sh "\$f"; done', x, "\${root}/a.sh,\${root}/b.sh"]}
  joined: {run: [sh, -c, 'sh "\$\${1#-f}"', x, "-f\${root}/c.sh"]}
  envvar: {run: [sh, -c, 'sh "\$SCRIPT"'], env: [SCRIPT]}
YAML
more() {
	"$STUDY" run "$Q/s.yaml" --store "$TMP/st2" >"$TMP/out" 2>"$TMP/err"
	SCRIPT="$TMP/l/p.sh" "$STUDY" run "$TMP/l/s.yaml" --store "$TMP/st2" >>"$TMP/out" 2>>"$TMP/err"
}
more
check_eq "more: first runs, no warning" "$(cat "$TMP/out"; grep -c warning "$TMP/err")" \
	"run 1: ran 1, cached 0, failed 0
run 2: ran 3, cached 0, failed 0
0"
codes=$(sqlite3 "$TMP/st2/provenance.db" "SELECT stage_id || ' ' || json_extract(cache_record, '\$.code')
	FROM executions WHERE status = 'ran' ORDER BY run_id, stage_id" | sed 's/":"[0-9a-f]*"/":H/g')
check_eq "more: each script is in its stage's code" "$codes" \
'data/space {"a.sh":H}
data/envvar {"p.sh":H}
data/joined {"c.sh":H}
data/list {"a.sh":H,"b.sh":H}'
for f in a b c p; do echo "echo $f-v2" >>"$TMP/l/$f.sh"; done
echo "echo a-v2" >>"$Q/a.sh"
more
check_eq "more: editing the scripts reruns all four" "$(cat "$TMP/out")" \
	"run 3: ran 1, cached 0, failed 0
run 4: ran 3, cached 0, failed 0"

# warnings: a wrapper, a directory of the root, a code: list that names another file
mkdir -p "$R/pkg"
cat >"$R/w2.yaml" <<YAML
study: warn2
root: $R
data:
  wrapped: {run: [timeout, "60", python3, scripts/train.py, "\${out}"]}
  dir: {run: [make, -s, -C, "\${root}/pkg"]}
  other: {run: [sh, scripts/step.sh, "\${out}"], code: [bin/toystage]}
  listed: {run: [sh, ./scripts/step.sh, "\${out}"], code: [scripts/step.sh]}
YAML
"$STUDY" status "$R/w2.yaml" --store "$R/st" >/dev/null 2>"$TMP/err"
check_eq "a wrapper, a directory, and code: naming another file are warned about" "$(cat "$TMP/err")" \
"study: warning: $R/w2.yaml:4:19: 'timeout' runs 'scripts/train.py', which is looked up when the stage runs and is not in its cache key: a change to it will not rerun the stage; name it as \"\${root}/...\" or list it under code:
study: warning: $R/w2.yaml:5:15: 'make' is given the directory '$R/pkg', whose files are not in its cache key: a change to them will not rerun the stage; list the files it runs under code:
study: warning: $R/w2.yaml:6:17: 'sh' runs 'scripts/step.sh', which is looked up when the stage runs and is not in its cache key: a change to it will not rerun the stage; name it as \"\${root}/...\" or list it under code:"
done_testing
