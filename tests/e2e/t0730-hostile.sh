#!/bin/sh
# Hostile study files (issue 7): each is rejected with exit 2 and a clear
# message, quickly and in bounded memory, or handled inertly: names with
# '..', '/', NUL or control characters; shell metacharacters in `run` (passed
# literally, never interpreted); enormous files; deep nesting; alias bombs;
# duplicate keys; non-UTF-8; a study that expands to millions of stages; a
# `code:` entry that is a device. Nothing is written outside the store.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reliability.sh"
cd "$TOP"
S="$TMP/store"
# bounded memory: 1 GiB of address space, except under ASan (it reserves terabytes)
LIMIT_MEM="ulimit -v 1048576;"
[ "${SAN:-}" = 1 ] && LIMIT_MEM=

# reject NAME REGEX: the study $TMP/NAME.yaml must fail with exit 2 within 10 s
# and print REGEX (grep -E) in its error, creating no store
reject() {
	t0=$(date +%s)
	sh -c "$LIMIT_MEM exec timeout 10 \"\$0\" run \"\$1\" --store \"\$2\"" \
		"$STUDY" "$TMP/$1.yaml" "$TMP/never-$1" >/dev/null 2>"$TMP/$1.err"
	rc=$?
	check_eq "$1: rejected with exit 2" "$rc" 2
	check "$1: message matches '$2'" grep -qE "$2" "$TMP/$1.err"
	check "$1: message is the study: error: kind" grep -q '^study: error: ' "$TMP/$1.err"
	check "$1: rejected within 5 s" [ $(($(date +%s) - t0)) -le 5 ]
	check "$1: no store was created" [ ! -e "$TMP/never-$1" ]
}

printf 'study: h\nmodels:\n  "../evil": {run: [t, "${out}"]}\n' >"$TMP/dotdot.yaml"
reject dotdot "invalid name '../evil' in 'models'"
printf 'study: h\nmodels:\n  "a/b": {run: [t, "${out}"]}\n' >"$TMP/slash.yaml"
reject slash "name"
printf 'study: h\nmodels:\n  "a\\0b": {run: [t, "${out}"]}\n' >"$TMP/nul-escape.yaml"
reject nul-escape "name|NUL|control"
printf 'study: h\nmodels:\n  a\0b: {run: [t, "${out}"]}\n' >"$TMP/nul-raw.yaml"
reject nul-raw "NUL byte in the study file"
printf 'study: h\nmodels:\n  "a\\u001bb": {run: [t, "${out}"]}\n' >"$TMP/ctrl.yaml"
reject ctrl "name|control"
printf 'study: "../../etc"\n' >"$TMP/study-name.yaml"
reject study-name "invalid study name"
printf 'study: h\nmodels:\n  m: {run: [t, "${out}"]}\n  m: {run: [t, "${out}"]}\n' >"$TMP/dup.yaml"
reject dup "duplicate key 'm'"
printf 'study: h\377\376\n' >"$TMP/utf8.yaml"
reject utf8 "invalid leading UTF-8 octet"
{ echo "study: h"; echo "a: &a [x, x, x, x, x, x, x, x, x, x]"
  for i in 1 2 3 4 5 6 7 8; do echo "b$i: &b$i [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]"; done; } >"$TMP/laughs.yaml"
reject laughs "anchors and aliases are not supported"
awk 'BEGIN { printf "study: h\nx: "; for (i = 0; i < 100000; i++) printf "["; print "" }' >"$TMP/deep.yaml"
reject deep "nesting is too deep \(limit 32 levels\)"
awk 'BEGIN { printf "study: h\ndescription: \""; for (i = 0; i < 5 * 1024 * 1024; i += 64)
	printf "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; print "\"" }' >"$TMP/huge.yaml"
reject huge "too large"
awk 'BEGIN { print "study: wide"; print "models:"; for (i = 0; i < 3000; i++) printf "  m%d: {run: [t, \"${out}\"]}\n", i
	print "evaluations:"; for (i = 0; i < 3000; i++) printf "  e%d: {run: [t, \"${model}\", \"${out}\"]}\n", i }' >"$TMP/wide.yaml"
reject wide "expands to 9003000 stages, more than the limit of 100000"
printf 'study: h\ndata:\n  x: {run: [t, "${out}"], code: [/dev/zero]}\n' >"$TMP/code-dev.yaml"
reject code-dev "code file '/dev/zero' is not a regular file"
printf 'study: h\nfoo: !!python/object:os.system "touch /tmp/pwned"\n' >"$TMP/tag.yaml"
reject tag "tag"

# a big but legal file (just under the size limit) loads in bounded time
awk 'BEGIN { print "study: big"; print "models:"; print "  m:"; print "    run: [t, \"${out}\"]"
	print "    params:"; for (i = 0; i < 150000; i++) printf "      p%d: %d\n", i, i }' >"$TMP/bigok.yaml"
t0=$(date +%s)
sh -c "$LIMIT_MEM exec timeout 30 \"\$0\" dag \"\$1\"" "$STUDY" "$TMP/bigok.yaml" >/dev/null 2>&1
check_eq "a $(wc -c <"$TMP/bigok.yaml")-byte legal study loads" "$?" 0
check "... within 10 s" [ $(($(date +%s) - t0)) -le 10 ]

# shell metacharacters reach the stage literally, one argv element each
mark="$TMP/pwned"
cat >"$TMP/meta.yaml" <<YAML
study: meta
root: $TOP
data:
  args:
    run: [stages/bin/toystage, argv, --out, "\${out}", "\$\$(touch $mark)", "\`touch $mark\`",
          "; touch $mark", "| touch $mark", "&& touch $mark", "*", "~", "\$\$HOME",
          "a b", "'q'", '"dq"', "> $mark", "\\\\n"]
YAML
"$STUDY" run "$TMP/meta.yaml" --store "$S" >/dev/null 2>"$TMP/meta.err"
check_eq "a run argv with shell metacharacters runs" "$?" 0
check "nothing was interpreted by a shell" [ ! -e "$mark" ]
out=$(ls -d "$S"/out/* | head -1)
cat >"$TMP/meta.want" <<WANT
\$(touch $mark)
\`touch $mark\`
; touch $mark
| touch $mark
&& touch $mark
*
~
\$HOME
a b
'q'
"dq"
> $mark
\\n
WANT
check "the stage received every element literally" cmp -s "$TMP/meta.want" "$out/argv.txt"
[ -f "$out/argv.txt" ] && ! cmp -s "$TMP/meta.want" "$out/argv.txt" && diff "$TMP/meta.want" "$out/argv.txt" | sed 's/^/#   /'
check "the store is consistent" store_check "$S"
done_testing
