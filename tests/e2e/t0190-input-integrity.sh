#!/bin/sh
# Regression (issue 11, kind 7): a stage never reads an input whose bytes differ
# from its recorded digest, and a cache hit is not reused when its output was
# damaged. Materialised files are hard links to the objects, so making one
# writable and editing it (even keeping its size and mtime) changes the object;
# replacing it by a new file leaves the object intact. docs/store.md,
# "Integrity", says what the run does in each case.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
cat >"$TMP/i.yaml" <<YAML
study: integrity
root: $TOP
data:
  corpus: {run: [sh, -c, 'printf "good bytes\\\\n" > "\$STUDY_OUT/data.txt"']}
models:
  m:
    run: [sh, -c, '{ echo seen; cat "\$1/data.txt"; } > "\$STUDY_OUT/seen.txt"', sh, "\${data.corpus}"]
    params: {v: 1}
YAML
run() { # run: the summary line in $TMP/out, warnings in $TMP/warn
	"$STUDY" run "$TMP/i.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc"
	grep '^study: ' "$TMP/err" >"$TMP/warn"
}
# forge FILE: replace FILE's bytes in place by as many other bytes, then put
# its mode and mtime back (only the ctime shows it)
forge() {
	{ cp -p "$1" "$TMP/ref" && chmod u+w "$1" && printf 'evil bytes\n' >"$1" &&
		touch -r "$TMP/ref" "$1" && chmod a-w "$1"; } 2>/dev/null
}
# what the consumer saw, over all its outputs: forged bytes never
seen() { cat "$S"/out/*/seen.txt | grep -c 'evil'; }
setv() { sed -i "s/v: [0-9]*/v: $1/" "$TMP/i.yaml"; }

run
check_eq "first run" "$(cat "$TMP/out")" "run 1: ran 2, cached 0, failed 0"
C=$(grep -l 'good bytes' "$S"/out/*/data.txt)
CT=$(dirname "$C")

run
check_eq "a no-op run reuses both" "$(cat "$TMP/out")" "run 2: ran 0, cached 2, failed 0"
check_eq "and warns about nothing" "$(cat "$TMP/warn")" ""

# 1. edit a materialised input in place (the object with it), same size and mtime
forge "$C"
setv 2
run
check_eq "in place: the damaged producer runs again" "$(cat "$TMP/out")" \
	"run 3: ran 2, cached 0, failed 0"
check_eq "in place: the run says which file and what it did" "$(cat "$TMP/warn")" \
	"study: warning: data/corpus: cached output damaged: file '$C' does not match its recorded digest ('data.txt' differs (11 bytes in the manifest, 11 in the materialised tree)); 1 damaged object removed from the store; running the stage again"
check_eq "in place: the consumer never saw the forged bytes" "$(seen)" 0
check_eq "in place: the input is the original again" "$(cat "$C")" "good bytes"

# 2. replace the materialised file by another one: the object is intact
chmod u+w "$CT"
cp -p "$C" "$TMP/ref"
rm -f "$C"
printf 'evil bytes\n' >"$C"
touch -r "$TMP/ref" "$C"
chmod a-w "$C" "$CT"
setv 3
run
check_eq "replaced: the producer stays cached" "$(cat "$TMP/out")" \
	"run 4: ran 1, cached 1, failed 0"
check_eq "replaced: restored from the intact object, with a warning" "$(cat "$TMP/warn")" \
	"study: warning: data/corpus: file '$C' did not match its recorded digest ('data.txt' differs (11 bytes in the manifest, 11 in the materialised tree)); restored from the store's intact object"
check_eq "replaced: the consumer never saw the forged bytes" "$(seen)" 0

# 3. replace an object's bytes directly; the consumer's key is unchanged
H=$(sha256sum "$C" | cut -c1-64)
O="$S/objects/$(echo "$H" | cut -c1-2)/$H"
forge "$O"
run
check_eq "object: the producer reruns, the consumer is a cache hit" "$(cat "$TMP/out")" \
	"run 5: ran 1, cached 1, failed 0"
check_eq "object: the input is the original again" "$(cat "$C")" "good bytes"
check_eq "object: the object is its name again" "$(sha256sum "$O" | cut -c1-64)" "$H"

# 4. a cache hit whose own output was damaged is not reused
M=
for f in "$S"/out/*/seen.txt; do [ "$(cat "$f")" = "$(printf 'seen\ngood bytes')" ] && M=$f; done
forge "$M"
run
check_eq "hit: the damaged cached stage runs again" "$(cat "$TMP/out")" \
	"run 6: ran 1, cached 1, failed 0"
check_eq "hit: its output is right again" "$(cat "$M")" "$(printf 'seen\ngood bytes')"

"$STUDY" verify --store "$S" >"$TMP/verify" 2>&1
check_eq "the store verifies afterwards" "$?" 0
done_testing
