#!/bin/sh
# A reproducible build (issue 11, kind 1): the programs are hashed as code into
# every cache key, so two checkouts of the same files at different paths must
# build byte-identical bin/ and stages/bin/, or a colleague's clone finds
# nothing up to date on a shared store. Copies the work tree (tracked and
# untracked-not-ignored files) to two directories of different path lengths,
# runs a plain `make -j2 all` in each and compares every file with cmp.
# Plain suite only (two full builds, about 20 s on 2 cores).
. "$(dirname "$0")/lib.sh"
if [ "${SAN:-}" = 1 ]; then
	echo "ok - reproducible build # SKIP under SAN=1: the plain suite checks the plain build, once"
	exit 0
fi

# copy_tree DEST: the files a checkout of this tree has, without build outputs
copy_tree() {
	mkdir -p "$1"
	if command -v git >/dev/null 2>&1 && git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# --ignore-failed-read: a tracked file deleted in a dirty checkout is skipped
		(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
			tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$1" -xf -
	else
		for e in "$TOP"/* "$TOP"/.[!.]*; do
			[ -e "$e" ] || continue
			case "${e##*/}" in build | bin | artifacts | .git) continue ;; esac
			cp -R "$e" "$1/"
		done
		rm -rf "$1/stages/bin"
	fi
}

A="$TMP/a"
B="$TMP/a-checkout-at-a-longer-path/b"
copy_tree "$A"
copy_tree "$B"
check "the copy has the Makefile and the sources" test -f "$A/Makefile" -a -f "$B/pipeline/main.c"
check "the copy has no build outputs" test ! -e "$A/bin" -a ! -e "$A/stages/bin" -a ! -e "$A/build"

t0=$(date +%s)
for d in "$A" "$B"; do
	# a clean environment for the inner make: no SAN, no flags or jobserver of the outer one
	(cd "$d" && env -u SAN -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j2 all) >"$d.log" 2>&1
	rc=$?
	check_eq "plain make -j2 all in $d" "$rc" 0
	[ "$rc" -eq 0 ] || tail -5 "$d.log" | sed 's/^/#   /'
done
echo "# t0105: two builds took $(($(date +%s) - t0)) s"

list() { (cd "$1" && find bin stages/bin -type f 2>/dev/null | LC_ALL=C sort); }
la=$(list "$A")
lb=$(list "$B")
check_eq "both builds made the same files" "$lb" "$la"
for f in bin/study bin/study-exec stages/bin/toyllm; do
	check "the build made $f" test -f "$A/$f"
done

# section DEST OFFSET: the ELF section holding byte OFFSET (1-based, as cmp says)
section() {
	command -v readelf >/dev/null 2>&1 || return 0
	LC_ALL=C readelf -SW "$1" 2>/dev/null | awk -v off="$2" '
		function hex(h,   i, n) { n = 0; for (i = 1; i <= length(h); i++) n = n * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1; return n }
		{ sub(/^ *\[ *[0-9]+\] */, "") }
		NF >= 5 && $3 ~ /^[0-9a-f]+$/ && $4 ~ /^[0-9a-f]+$/ && $5 ~ /^[0-9a-f]+$/ {
			o = hex($4); s = hex($5)
			if (off - 1 >= o && off - 1 < o + s) { print " (in section " $1 ")"; found = 1; exit }
		}
		END { if (!found && off <= 64) print " (in the ELF header: section sizes or offsets differ)" }' 2>/dev/null
}

first=""
for f in $la; do
	[ -f "$B/$f" ] || continue
	if ! out=$(cmp "$A/$f" "$B/$f" 2>&1); then
		off=$(printf '%s\n' "$out" | sed -n 's/.*differ: \(char\|byte\) \([0-9]*\).*/\2/p')
		[ -n "$first" ] || first="$f: $out$(section "$A/$f" "$off")"
		notok "$f is byte-identical in both checkouts"
	else
		ok "$f is byte-identical in both checkouts"
	fi
done
[ -z "$first" ] || echo "# first difference: $first"
if [ -n "$first" ] && grep -q -a -F "$TMP" "$A/${first%%:*}" 2>/dev/null; then
	echo "# the build directory is embedded in ${first%%:*}"
fi
done_testing
