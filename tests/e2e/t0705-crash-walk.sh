#!/bin/sh
# Crash windows, walked deterministically (issue 18, part 2). Random SIGKILLs
# (t0700) rarely land in a microsecond window, so here the process kills
# itself at step N (STUDY_CRASH_AT, fsutil.h; docs/reliability.md "Crash
# windows"): every write, rename, link, symlink, fan-out mkdir, unlink and
# provenance COMMIT of a run is a step. A traced reference run counts the
# steps of (a) a cold run of a two-stage study and (b) a rerun that is all
# cache hits; then for every N, before and after the step, the run is killed
# there and the store and database must obey the crash invariants
# (crash_check below), `study verify` must exit 0 (a run left 'running' is
# only a note; a database killed before its first COMMIT has no schema and
# verify says to run a study), and a normal rerun must give the reference outputs with the
# invariants held and `study verify` clean.
# Env: WALK_STRIDE=K walks every K-th N only (default 1; 2 under SAN=1, said
# in a "# " line).
. "$(dirname "$0")/lib.sh"
cd "$TOP"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
S="$TMP/store"
stride=${WALK_STRIDE:-1}
[ "${SAN:-}" = 1 ] && [ -z "${WALK_STRIDE:-}" ] && stride=2

cat >"$TMP/study.yaml" <<YAML
study: crash-walk
root: $TOP
data:
  corpus: {run: [$TOY, gen, --seed, "1", --n, "8", --out, "\${out}"]}
models:
  small:
    run: [$TOY, train, --data, "\${data.corpus}", --size, "4", --steps, "2", --out, "\${out}"]
YAML

# crash_check STORE [final]: print "bad: ..." for every broken crash invariant, return
# 1 if any (few processes: the walk calls it hundreds of times):
#  - every file under objects/ and trees/ is named by the SHA-256 of its
#    content, in its fan-out directory; nothing else is there (a partial or
#    temporary file under a final name breaks this);
#  - every object a manifest names exists;
#  - every out/<hex>/ has its manifest and equals it: the same files with the
#    same contents and directories, nothing more (no half tree), no links;
#  - every cache entry cache/ab/<key> is a symlink to sha256-<base64url tree>
#    and has a committed execution row (cache_key, status 'ran', that output
#    digest) whose manifest exists;
#  - every committed 'ran'/'cached' row's output manifest and log objects
#    exist; PRAGMA integrity_check is ok;
#  - with "final" (after a complete run): every directory of out/ is 0555 and
#    every file 0444 (a kill between materialise's rename and chmod left a
#    0700 tree that nothing repaired: found by this walk).
# The database is opened read-only so that the check leaves the killed run's
# WAL as it was for the next run to recover.
crash_check() {
	_problems=$(crash_problems "$1" "${2:-}")
	[ -z "$_problems" ] && return 0
	printf '%s\n' "$_problems"
	return 1
}
crash_problems() {
	_s=$1 _final=$2
	{
		cd "$_s" || exit 1
		find objects trees cache stat out -mindepth 1 -printf 'ENT %y %m %p\n' 2>/dev/null
		find objects trees out -type f -exec sha256sum {} + 2>/dev/null | sed 's/^/SUM /'
		find trees -type f -exec awk 'FNR > 1 { n = split(FILENAME, p, "/");
			print "MAN", p[n], $1, $2, $4 }' {} +
		for _l in cache/??/*; do
			[ -L "$_l" ] || continue
			_t=$(readlink "$_l")
			_h=$(printf '%s=' "${_t#sha256-}" | tr '_-' '/+' | base64 -d 2>/dev/null |
				od -An -v -tx1 | tr -d ' \n')
			echo "CACHE ${_l##*/} $_t $_h"
		done
		if [ -f provenance.db ] && [ "$(sqlite3 -readonly provenance.db \
			"SELECT count(*) FROM sqlite_master WHERE name = 'executions'")" = 1 ]; then
			sqlite3 -readonly -separator ' ' provenance.db \
				"SELECT 'ROW', cache_key, output_digest FROM executions WHERE status = 'ran';
				 SELECT 'REC', output_digest FROM executions WHERE status IN ('ran', 'cached');
				 SELECT 'LOG', stdout_digest FROM executions WHERE stdout_digest IS NOT NULL;
				 SELECT 'LOG', stderr_digest FROM executions WHERE stderr_digest IS NOT NULL;
				 SELECT 'IC', integrity_check FROM pragma_integrity_check;"
		fi
	} 2>&1 | awk -v final="$_final" '
	function hex64(s) { return s ~ /^[0-9a-f]+$/ && length(s) == 64 }
	$1 == "ENT" {
		n = split($4, p, "/"); top = p[1]
		if (final && top == "out" && n >= 2 && ($2 == "d" ? $3 != "555" : $3 != "444"))
			print "bad: " $4 " has mode " $3 " after a complete run (not read-only)"
		$3 = $4
		if (n == 2 && top != "stat" && top != "out" && ($2 != "d" || p[2] !~ /^[0-9a-f][0-9a-f]$/))
			print "bad: stray " $3
		else if (n == 2 && top == "stat" && ($2 != "f" || !hex64(p[2])))
			print "bad: stray " $3
		else if (n == 2 && top == "out" && ($2 != "d" || !hex64(p[2])))
			print "bad: stray " $3
		else if (n == 3 && top == "cache" && ($2 != "l" || !hex64(p[3])))
			print "bad: stray " $3 " (not a cache link)"
		else if (n == 3 && (top == "objects" || top == "trees") &&
			 ($2 != "f" || !hex64(p[3]) || substr(p[3], 1, 2) != p[2]))
			print "bad: stray " $3
		else if (n > 3 && top != "out")
			print "bad: stray " $3
		else if (top == "out" && n >= 3) {
			rel = substr($3, 70)
			if ($2 == "d") dir[p[2] SUBSEP rel] = 1
			else if ($2 == "f") file[p[2] SUBSEP rel] = 1
			else print "bad: " $3 " is not a file or directory"
		}
		if (top == "out" && n == 2 && $2 == "d") dir[p[2] SUBSEP ""] = 1
		next }
	$1 == "SUM" {
		n = split($3, p, "/")
		if (p[1] == "out") { sum[p[2] SUBSEP substr($3, 70)] = $2; next }
		if ($2 != p[n]) print "bad: " $3 " has content digest " $2 " (partial or damaged)"
		else if (p[1] == "objects") obj[p[n]] = 1
		else tree[p[n]] = 1
		next }
	$1 == "MAN" { nm++; mt[nm] = $2; mk[nm] = $3; md[nm] = $4; mp[nm] = $5; next }
	$1 == "CACHE" { nc++; ck[nc] = $2; ct[nc] = $3; ch[nc] = $4; next }
	$1 == "ROW" { row[$2 SUBSEP $3] = 1; next }
	$1 == "REC" { if (!($2 in tree)) print "bad: recorded output " $2 " has no manifest"; next }
	$1 == "LOG" { if (!($2 in obj)) print "bad: recorded log object " $2 " is missing"; next }
	$1 == "IC" { if ($2 != "ok") print "bad: integrity_check: " $0; next }
	{ print "bad: unexpected: " $0 }
	END {
		for (i = 1; i <= nm; i++) {
			t = mt[i]
			if (mk[i] != "d" && !(md[i] in obj))
				print "bad: object " md[i] " of tree " t " is missing"
			if (!((t SUBSEP "") in dir)) continue
			k = t SUBSEP mp[i]; want[k] = 1
			if (mk[i] == "d") { if (!(k in dir)) print "bad: out/" t "/" mp[i] " is missing (half tree)" }
			else if (!(k in file)) print "bad: out/" t "/" mp[i] " is missing (half tree)"
			else if (sum[k] != md[i]) print "bad: out/" t "/" mp[i] " differs from its object"
			# its parent directories are part of the tree too
			q = mp[i]; while (sub(/\/[^\/]*$/, "", q)) want[t SUBSEP q] = 1
		}
		for (k in file) { split(k, p, SUBSEP)
			if (!(p[1] in tree)) print "bad: out/" p[1] " has no manifest"
			else if (!(k in want)) print "bad: out/" p[1] "/" p[2] " is not in its manifest" }
		for (k in dir) { split(k, p, SUBSEP)
			if (p[2] == "") { if (!(p[1] in tree)) print "bad: out/" p[1] " has no manifest" }
			else if (!(k in want)) print "bad: out/" p[1] "/" p[2] " is not in its manifest" }
		for (i = 1; i <= nc; i++) {
			if (ct[i] !~ /^sha256-[A-Za-z0-9_-]+$/ || length(ct[i]) != 50 || !hex64(ch[i]))
				print "bad: cache entry " ck[i] " -> " ct[i] " is malformed"
			else if (!((ck[i] SUBSEP ch[i]) in row))
				print "bad: cache entry " ck[i] " has no committed producer row (cache_key, ran, output " ch[i] ")"
			else if (!(ch[i] in tree))
				print "bad: cache entry " ck[i] " names tree " ch[i] " without a manifest"
		}
	}'
}

# outputs of the latest run, one "stage digest status" line per stage
digests() {
	sqlite3 -readonly -separator ' ' "$1/provenance.db" "SELECT stage_id, output_digest, status
		FROM executions WHERE run_id = (SELECT max(id) FROM runs) ORDER BY stage_id"
}

run_study() { # run_study [ENV=VALUE...]: one run into $S, -j 1 (a fixed step order)
	env "$@" "$STUDY" run "$TMP/study.yaml" --store "$S" -j 1 >"$TMP/run.out" 2>"$TMP/run.err"
}

wipe() { chmod -R u+w "$S" 2>/dev/null; rm -rf "$S"; }

# References: a cold run and a rerun of cache hits, traced.
t0=$(date +%s%3N)
run_study STUDY_CRASH_TRACE="$TMP/cold.trace"
check_eq "the traced cold run succeeds" "$?" 0
digests "$S" | sed 's/ [a-z]*$//' >"$TMP/ref"
cp -a "$S" "$TMP/warm"
# traced on a copy, as walked: a copied store's stat records are stale (new
# inodes), so its trees are rehashed and their records rewritten
wipe
cp -a "$TMP/warm" "$S"
run_study STUDY_CRASH_TRACE="$TMP/hit.trace"
check_eq "the traced rerun succeeds" "$?" 0
check "the rerun is all cache hits" grep -q 'ran 0, cached 2, failed 0' "$TMP/run.out" "$TMP/run.err"
check "the reference store passes crash_check" crash_check "$S" final
check_eq "a trace-only run crashes nowhere" "$(grep -c crash "$TMP/cold.trace" "$TMP/hit.trace" |
	sed 's/.*://' | tr '\n' ' ')" "0 0 "
cold_n=$(wc -l <"$TMP/cold.trace")
hit_n=$(wc -l <"$TMP/hit.trace")
echo "# steps: cold run $cold_n, cache-hit run $hit_n ($(cut -d' ' -f2 "$TMP/cold.trace" "$TMP/hit.trace" |
	sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }'))"
check "a cold run has its steps (commit, write, rename, link, symlink, mkdir)" \
	sh -c "for k in commit write rename link symlink mkdir; do grep -q \" \$k \" '$TMP/cold.trace' || exit 1; done"
check "a cache-hit run has its steps (stat records, the hits' commit)" \
	sh -c "grep -q ' commit ' '$TMP/hit.trace' && grep -q ' rename .*/stat/' '$TMP/hit.trace'"

# The checker itself catches what it looks for (on damaged copies).
damaged() { # damaged WHAT PATTERN: damage a copy with stdin's commands, expect PATTERN
	wipe
	cp -a "$TMP/warm" "$S"
	(cd "$S" && chmod -R u+w out && sh -e) || notok "$1 (damage failed)"
	if crash_check "$S" >"$TMP/check"; then notok "crash_check catches $1"
	else check "crash_check catches $1" grep -q "$2" "$TMP/check"; fi
}
o=$(ls "$TMP/warm/out" | head -1)
damaged "a partial object" 'has content digest' <<EOF
f=\$(ls objects/*/* | head -1); head -c 3 "\$f" >"\$f.x"; mv "\$f.x" "\$f"
EOF
damaged "a half tree" 'missing (half tree)' <<EOF
rm out/$o/*
EOF
damaged "an extra file in a tree" 'not in its manifest' <<EOF
echo x >out/$o/extra
EOF
damaged "a temporary under a final name" 'stray' <<EOF
echo x >trees/$(printf %.2s "$o")/.tmp-abc
EOF
damaged "a cache entry without a committed producer" 'no committed producer row' <<EOF
sqlite3 provenance.db "DELETE FROM executions WHERE status = 'ran' AND output_digest = '$o'"
EOF

# walk PHASE COUNT: crash at every step (every stride-th), before and after
fin= walked=0 crashed=0 finished=0 bad=0 bad_rc=0 bad_rerun=0 bad_verify=0 first=
walk() {
	phase=$1 count=$2 n=1
	while [ "$n" -le "$count" ]; do
		for mode in before after; do
			wipe
			[ "$phase" = hit ] && cp -a "$TMP/warm" "$S"
			rm -f "$TMP/t"
			run_study STUDY_CRASH_AT="$n:$mode" STUDY_CRASH_TRACE="$TMP/t"
			rc=$?
			walked=$((walked + 1))
			step=$(grep ' (crash ' "$TMP/t" 2>/dev/null | sed "s|$S/||")
			case $rc in
			137) crashed=$((crashed + 1)) ;;
			0) finished=$((finished + 1)) # fewer steps this time (timing)
			   fin="$fin $phase:$n:$mode" ;;
			*) bad_rc=$((bad_rc + 1))
			   [ -n "$first" ] || first="$phase $n:$mode: exit $rc: $(head -c 300 "$TMP/run.err")" ;;
			esac
			if ! crash_check "$S" >"$TMP/check"; then
				bad=$((bad + 1))
				[ -n "$first" ] || first="$phase, killed at step $step: $(head -3 "$TMP/check")"
			fi
			# verify on a copy (the rerun must see the killed run's WAL as it
			# was): exit 0; a run still marked running is only a note. Killed
			# before the new database's first COMMIT, it has no schema yet and
			# verify says so ("schema version 0 ... run a study"): allowed.
			chmod -R u+w "$TMP/v" 2>/dev/null; rm -rf "$TMP/v"; cp -a "$S" "$TMP/v"
			if ! "$STUDY" verify --store "$TMP/v" --no-git >"$TMP/verify" 2>&1 &&
				! grep -q 'has schema version 0, older than .*; run a study with this store' \
					"$TMP/verify"; then
				bad_verify=$((bad_verify + 1))
				[ -n "$first" ] || first="$phase, verify right after step $step: $(grep -v '^verify: chain' "$TMP/verify" | head -3)"
			fi
			run_study
			rc=$?
			if [ $rc -ne 0 ] || ! digests "$S" | sed 's/ [a-z]*$//' | cmp -s - "$TMP/ref" ||
				! crash_check "$S" final >"$TMP/check"; then
				bad_rerun=$((bad_rerun + 1))
				[ -n "$first" ] || first="$phase, rerun after step $step (exit $rc): $(head -3 "$TMP/check")"
			fi
			if ! "$STUDY" verify --store "$S" --no-git >"$TMP/verify" 2>&1; then
				bad_verify=$((bad_verify + 1))
				[ -n "$first" ] || first="$phase, verify after step $step: $(grep -v '^verify: chain' "$TMP/verify" | head -3)"
			fi
		done
		n=$((n + stride))
	done
}
walk cold "$cold_n"
walk hit "$hit_n"
t1=$(date +%s%3N)
[ "$stride" = 1 ] || echo "# walked 1 step in $stride only (WALK_STRIDE; 2 by default under SAN=1, to keep the sanitized suite fast)"
echo "# $walked crash runs ($crashed killed, $finished finished first${fin:+:$fin}) in $(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100)) s"
check_eq "every crash run was killed at its step or finished (exit 137 or 0)" "$bad_rc" 0
check "nearly every crash run was killed at its step" [ $((crashed * 10)) -ge $((walked * 9)) ]
check_eq "the crash invariants held after every stop" "$bad" 0
check_eq "every rerun after a stop completed with the reference outputs, invariants held" "$bad_rerun" 0
check_eq "study verify exits 0 after every stop and after every rerun" "$bad_verify" 0
[ -z "$first" ] || echo "#   first problem: $first"
done_testing
