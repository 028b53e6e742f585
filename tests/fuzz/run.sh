#!/bin/sh
# Builds the libFuzzer harness (tests/fuzz/fuzz_study.c + every pipeline/*.c
# except main.c, with clang -fsanitize=fuzzer,address,undefined) and runs it
# for FUZZ_TIME seconds (default 60) on one core at low priority.
#
#   sh tests/fuzz/run.sh [SECONDS]          build + fuzz
#   FUZZ_BUILD_ONLY=1 sh tests/fuzz/run.sh  build only
#
# The corpus is tests/fuzz/corpus (kept, small) seeded from studies/,
# tests/studies and tests/malformed; new interesting inputs go to
# build/fuzz/new-corpus and crashes to build/fuzz/crashes. Minimise new
# inputs into the kept corpus with `sh tests/fuzz/run.sh merge`.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
out=build/fuzz
mkdir -p "$out/obj" "$out/new-corpus" "$out/crashes" tests/fuzz/corpus
CC=${FUZZ_CC:-clang}
PKGS="yaml-0.1 sqlite3 libgit2 libcjson libcrypto"
FLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
 -fno-sanitize-recover=undefined -fno-omit-frame-pointer -iquote pipeline $(pkg-config --cflags $PKGS)"
objs=
for src in pipeline/*.c tests/fuzz/fuzz_study.c; do
	[ "$src" = pipeline/main.c ] && continue
	o="$out/obj/$(basename "$src" .c).o"
	if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find pipeline -name '*.h' -newer "$o")" ]; then
		$CC $FLAGS -c "$src" -o "$o"
	fi
	objs="$objs $o"
done
$CC -fsanitize=fuzzer,address,undefined -o "$out/fuzz_study" $objs $(pkg-config --libs $PKGS) -lm
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

# every crash found so far must stay fixed (clang's UBSan also checks
# float-cast-overflow, which gcc's -fsanitize=undefined in `make test` does not)
./"$out/fuzz_study" -runs=1 tests/fuzz/regress/*.yaml >"$out/regress.log" 2>&1 || {
	cat "$out/regress.log"; echo "fuzz: a regression input crashes again" >&2; exit 1; }
echo "fuzz: $(ls tests/fuzz/regress/*.yaml | wc -l) regression inputs replay cleanly"

# seed corpus: every study we have (valid and malformed)
seeds="$out/seeds"
mkdir -p "$seeds"
for f in studies/*.yaml tests/studies/*.yaml tests/malformed/*.yaml; do
	[ -f "$f" ] && cp "$f" "$seeds/$(echo "$f" | tr / _)"
done

if [ "${1:-}" = merge ]; then
	# minimise everything found into the kept corpus
	mkdir -p "$out/merged"
	rm -rf "$out/merged"/*
	./"$out/fuzz_study" -merge=1 -max_len=8192 -rss_limit_mb=2048 \
		"$out/merged" tests/fuzz/corpus "$out/new-corpus" "$seeds"
	rm -f tests/fuzz/corpus/*
	cp "$out/merged"/* tests/fuzz/corpus/
	echo "corpus: $(ls tests/fuzz/corpus | wc -l) files"
	exit 0
fi

secs=${1:-${FUZZ_TIME:-60}}
cd "$out"
exec nice -n 19 ./fuzz_study -max_total_time="$secs" -jobs=1 -workers=1 \
	-max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-dict="$top/tests/fuzz/study.dict" -artifact_prefix=crashes/ \
	new-corpus "$top/tests/fuzz/corpus" seeds
