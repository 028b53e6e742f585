#!/bin/sh
# gc STUDY.yaml keeps every output that study would reuse now (docs/store.md),
# also for stages that read external inputs (inputs:), and the store's copies
# of those inputs. Before, gc walked the plan without the inputs: it read
# past the end of its outputs array (ASan: heap-buffer-overflow) and removed
# the outputs of those stages, which then ran again. The kept runs are
# those of a partial run here, so only the study file keeps them.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
printf 'hello\n' >"$TMP/in.txt"
mkdir "$TMP/dir"; printf 'a\n' >"$TMP/dir/a"
cat >"$TMP/s.yaml" <<YAML
study: gcin
root: $TOP
inputs:
  txt: {path: $TMP/in.txt}
  dir: {path: $TMP/dir}
data:
  plain: {run: [sh, -c, 'echo p >"\$0/x"', "\${out}"]}
  file: {run: [sh, -c, 'cat "\$0" >"\$1/x"', "\${inputs.txt}", "\${out}"]}
  tree: {run: [sh, -c, 'ls "\$0" >"\$1/x"', "\${inputs.dir}", "\${out}"]}
models:
  m: {run: [sh, -c, 'cat "\$0/x" "\$1/x" >"\$2/x"', "\${data.file}", "\${data.tree}", "\${out}"]}
YAML
"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>&1
"$STUDY" run "$TMP/s.yaml" data/plain --store "$S" >/dev/null 2>&1
"$STUDY" gc "$TMP/s.yaml" --store "$S" >"$TMP/gc" 2>"$TMP/gcerr"
check_eq "gc STUDY.yaml: exit 0" "$?" 0
check_eq "gc: no error" "$(cat "$TMP/gcerr")" ""
check_eq "gc: nothing the study uses was removed" "$(tail -1 "$TMP/gc")" \
	"gc 1: removed 0 trees, 0 objects, 0 cache entries and 0 temporaries: 0 bytes freed"
check_eq "status: every stage still up to date" "$("$STUDY" status "$TMP/s.yaml" --store "$S" | tail -1)" \
	"4 of 4 stages up to date, 0 will run"
check_eq "the inputs are still in the store" \
	"$("$STUDY" status "$TMP/s.yaml" --store "$S" | grep -c '^imported ')" 2
"$STUDY" run "$TMP/s.yaml" --store "$S" >"$TMP/out" 2>&1
check_eq "the next run runs nothing" "$(tail -1 "$TMP/out")" "run 3: ran 0, cached 4, failed 0"
"$STUDY" verify --store "$S" --no-git >"$TMP/v" 2>&1
check_eq "verify: no problems" "$(tail -1 "$TMP/v" | sed 's/.*; //')" "0 problems"

# a pin the input no longer matches: gc refuses as run does, removing nothing
printf 'changed\n' >"$TMP/in.txt"
wrong=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
sed "s|txt: {path: $TMP/in.txt}|txt: {path: $TMP/in.txt, sha256: $wrong}|" "$TMP/s.yaml" >"$TMP/pin.yaml"
before=$(find "$S/objects" "$S/trees" -type f | wc -l)
"$STUDY" gc "$TMP/pin.yaml" --store "$S" >"$TMP/gc" 2>"$TMP/gcerr"
check_eq "gc with a broken pin: exit 2" "$?" 2
col=$((${#TMP} + 32)) # the pin's column on "  txt: {path: $TMP/in.txt, sha256: ..."
check_eq "gc with a broken pin: run's message" "$(cat "$TMP/gcerr")" \
	"study: error: $TMP/pin.yaml:4:$col: input 'txt': file '$TMP/in.txt' has sha256 $(sha256sum "$TMP/in.txt" | cut -d' ' -f1), but the study pins $wrong"
check_eq "gc with a broken pin: nothing removed" "$(find "$S/objects" "$S/trees" -type f | wc -l)" "$before"
done_testing
