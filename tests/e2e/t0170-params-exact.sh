#!/bin/sh
# End to end (issue 11, kind 2): a number in params reaches the stage exactly
# as written -- in ${params.X}, in $STUDY_PARAMS and in provenance -- and two
# values the stage can tell apart never share a cache key. A float beyond a
# double's range is a load error at file:line:col. Rule: docs/study-format.md,
# "Params typing".
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
cd "$TMP"
cat >echo.sh <<'EOF'
#!/bin/sh
printf 'arg=%s\nenv=%s\n' "$1" "$STUDY_PARAMS" >"$STUDY_OUT/p.txt"
EOF
chmod +x echo.sh

# study N A B: a study with one stage that echoes ${params.n}, params {n: A, m: B}
study() {
	printf 'study: p\nroot: .\nmodels:\n  a: {run: [./echo.sh, "${params.n}"], params: {n: %s, m: %s}}\n' \
		"$1" "$2" >"$TMP/s.yaml"
}
# out: what the last run of model/a wrote
out() {
	dir=$("$STUDY" show model/a --store "$S" | awk '$1 == "output" {getline; print $1}')
	cat "$dir/p.txt"
}
ran() { "$STUDY" run "$TMP/s.yaml" --store "$S" --json 2>/dev/null | json_field ran; }
nl='
'

study 1000000000000000 0
check_eq "10^15 runs" "$(ran)" 1
check_eq "10^15 reaches the stage as an integer" "$(out)" \
	"arg=1000000000000000${nl}env={\"m\":0,\"n\":1000000000000000}"
check "provenance records the argv exactly" sh -c \
	"'$STUDY' show model/a --store '$S' | grep -qx '  1000000000000000'"
check "provenance records STUDY_PARAMS exactly" sh -c \
	"'$STUDY' show model/a --store '$S' | grep -qFx '  STUDY_PARAMS={\"m\":0,\"n\":1000000000000000}'"

study 9007199254740992 0
check_eq "2^53 runs" "$(ran)" 1
check_eq "2^53 reaches the stage exactly" "$(out)" \
	"arg=9007199254740992${nl}env={\"m\":0,\"n\":9007199254740992}"
study 9007199254740993 0
check_eq "2^53+1 does not share 2^53's key: it runs" "$(ran)" 1
check_eq "2^53+1 reaches the stage exactly" "$(out)" \
	"arg=9007199254740993${nl}env={\"m\":0,\"n\":9007199254740993}"
check_eq "2^53+1 again is cached" "$(ran)" 0

# a param that is only in STUDY_PARAMS (not in argv) must still key the stage
study 1 9007199254740992
check_eq "m = 2^53 runs" "$(ran)" 1
study 1 9007199254740993
check_eq "status gives the true reason: params changed" \
	"$("$STUDY" status "$TMP/s.yaml" --store "$S" | awk '$1 == "will" {print $3, $4, $5}')" \
	"model/a changed: params"
check_eq "m = 2^53+1 (params only) does not share the key: it runs" "$(ran)" 1
check_eq "... and the stage sees it exactly" "$(out)" "arg=1${nl}env={\"m\":9007199254740993,\"n\":1}"

study 5 -0x10
check_eq "a signed hex literal is a string (YAML 1.2 core)" "$(ran) $(out)" "1 arg=5${nl}env={\"m\":\"-0x10\",\"n\":5}"
study 123456789012345678901234567890 0xFFFFFFFFFFFFFFFFFFFF
check_eq "integers of any size and hex reach the stage exactly, in decimal" "$(ran) $(out)" \
	"1 arg=123456789012345678901234567890${nl}env={\"m\":1208925819614629174706175,\"n\":123456789012345678901234567890}"
study +007 -0
check_eq "+007 is 7 and -0 is 0" "$(ran) $(out)" "1 arg=7${nl}env={\"m\":0,\"n\":7}"
study 1e15 0.1
check_eq "floats: shortest round-trip text" "$(ran) $(out)" "1 arg=1e+15${nl}env={\"m\":0.1,\"n\":1e+15}"
study '"1e400"' .inf
check_eq "quoted 1e400 and .inf are strings" "$(ran) $(out)" \
	"1 arg=1e400${nl}env={\"m\":\".inf\",\"n\":\"1e400\"}"

study 1e400 0
"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>"$TMP/err"
check_eq "1e400 is a load error (exit 2)" "$?" 2
check_eq "... at file:line:col" "$(head -n 1 "$TMP/err")" \
	"study: error: $TMP/s.yaml:4:52: number '1e400' is too large for a double (at most about 1.8e308); quote it to pass it as a string"
check_eq "... with the caret under the literal" "$(sed -n 3p "$TMP/err")" \
	"$(printf '%51s^' '')"
study 1 -1e400
"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>"$TMP/err"
check_eq "-1e400 is a load error too" "$?:$(head -n 1 "$TMP/err")" \
	"2:study: error: $TMP/s.yaml:4:58: number '-1e400' is too large for a double (at most about 1.8e308); quote it to pass it as a string"
study 1e-400 0
"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>"$TMP/err"
check_eq "1e-400 (which would become 0) is a load error" "$?:$(head -n 1 "$TMP/err")" \
	"2:study: error: $TMP/s.yaml:4:52: number '1e-400' is too small for a double and would become 0; quote it to pass it as a string"
done_testing
