#!/bin/sh
# End to end: every malformed study under tests/malformed is rejected by the
# binary with exit 2 and exactly the expected first line (file:line:col).
. "$(dirname "$0")/lib.sh"
cd "$TOP"
n=0
for f in tests/malformed/*.yaml; do
	want=$(cat "${f%.yaml}.err")
	"$STUDY" dag "$f" >/dev/null 2>"$TMP/err"; rc=$?
	got=$(head -n 1 "$TMP/err")
	if [ "$rc" = 2 ] && [ "$got" = "$want" ]; then
		ok "rejects $f"
	else
		notok "rejects $f (exit $rc)"
		echo "#   got:  $got"
		echo "#   want: $want"
	fi
	n=$((n + 1))
done
check "at least 30 malformed studies are tested ($n)" [ "$n" -ge 30 ]
"$STUDY" run tests/malformed/002-unknown-entry-key.yaml --store "$TMP/s" >/dev/null 2>&1
check_eq "run exits 2 on a malformed study" "$?" 2
check "a rejected study creates no store" [ ! -e "$TMP/s" ]
done_testing
