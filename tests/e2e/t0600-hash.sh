#!/bin/sh
# `study hash`: file digests equal sha256sum's; a directory's digest is the
# SHA-256 of the canonical manifest of docs/store.md (its worked example), and
# the digest the store gives the same tree; errors and usage.
. "$(dirname "$0")/lib.sh"

# files: same digests as sha256sum, one line per path, sha256sum's format
printf 'hello\n' >"$TMP/a"
head -c 300000 /dev/urandom >"$TMP/b"
: >"$TMP/empty"
got=$("$STUDY" hash "$TMP/a" "$TMP/b" "$TMP/empty")
check_eq "file digests as sha256sum" "$got" "$(sha256sum "$TMP/a" "$TMP/b" "$TMP/empty")"

# the worked example of docs/store.md
d=$TMP/tree
mkdir -p "$d/empty" "$d/sub"
printf 'A\n' >"$d/a.txt"
printf 'x' >"$d/sub-x"
printf 'BB\n' >"$d/sub/b.txt"
chmod +x "$d/sub/b.txt"
want_manifest='study-tree 1
f 06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0 2 a.txt
d 0000000000000000000000000000000000000000000000000000000000000000 0 empty
f 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 1 sub-x
x 68cd080c537d3f1355f357189f74f3fe1c68dd13cf406a84aedc934c90a0df31 3 sub/b.txt'
check_eq "manifest of the documented example" "$("$STUDY" hash --manifest "$d")" "$want_manifest"
want=$(printf '%s\n' "$want_manifest" | sha256sum | cut -d' ' -f1)
check_eq "tree digest = sha256 of the manifest" "$("$STUDY" hash "$d")" "$want  $d"

# the store agrees: the report of the example study, hashed in out/<hex>/
copy_study "$TOP/studies/example.yaml" "$TMP/example.yaml"
"$STUDY" run "$TMP/example.yaml" --store "$TMP/store" -j 2 >/dev/null 2>&1
check_eq "the example study runs" "$?" 0
n=0; bad=0
for t in "$TMP"/store/out/*; do
	n=$((n + 1))
	h=$(basename "$t")
	[ "$("$STUDY" hash "$t" | cut -d' ' -f1)" = "$h" ] || bad=$((bad + 1))
done
check "every materialised tree hashes to its name ($n trees)" [ "$n" -gt 0 -a "$bad" -eq 0 ]

# errors: a missing path (exit 1, the others still printed), a symlink, usage
out=$("$STUDY" hash "$TMP/a" "$TMP/missing" 2>"$TMP/err"); rc=$?
check_eq "missing path exits 1" "$rc" 1
check_eq "the other paths are still hashed" "$out" "$(sha256sum "$TMP/a")"
check_eq "missing path message" "$(cat "$TMP/err")" \
	"study: error: cannot read '$TMP/missing': No such file or directory"
ln -s a.txt "$d/link"
"$STUDY" hash "$d" >/dev/null 2>"$TMP/err"; rc=$?
check_eq "a symlink in a tree exits 1" "$rc" 1
check_eq "symlink message" "$(cat "$TMP/err")" \
	"study: error: '$d/link' is a symbolic link (only regular files and directories are allowed)"
mkdir "$TMP/void"
"$STUDY" hash "$TMP/void" >/dev/null 2>"$TMP/err"; rc=$?
check_eq "an empty directory exits 1" "$rc" 1
check_eq "empty directory message" "$(cat "$TMP/err")" \
	"study: error: directory '$TMP/void' is empty (an empty tree has no digest)"
"$STUDY" hash >/dev/null 2>"$TMP/err"; rc=$?
check_eq "no path is a usage error" "$rc" 2
"$STUDY" hash --bogus x >/dev/null 2>"$TMP/err"; rc=$?
check_eq "unknown option is a usage error" "$rc" 2
check "--help prints the usage" sh -c "'$STUDY' hash --help | grep -q 'usage: study hash'"
done_testing
