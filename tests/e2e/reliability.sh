# Helpers for the reliability tests t07NN-*.sh (sourced after lib.sh; not a
# test itself: tests/run-all.sh runs only t*.sh). Integrity is checked here
# with plain tools, independently of the code under test:
#
#   store_check STORE   prints "bad: ..." lines for every problem found and
#                       returns 1 if there was any:
#     - every file under objects/ is named by the SHA-256 of its content, in
#       the right fan-out directory (no half-written or stray temp files);
#     - every tree manifest is named by its SHA-256 and its objects exist;
#     - every action-cache entry (a symbolic link, or an older entry's file)
#       is named cache/<2 hex>/<64 hex key> and names, in canonical form, a
#       tree whose manifest exists (and whose objects exist, as for every
#       manifest); nothing else is under cache/;
#     - every out/<hex>/ has its manifest;
#     - provenance.db passes PRAGMA integrity_check and every execution
#       recorded as 'ran' or 'cached' has its output manifest;
#   cache_count STORE   the number of action-cache entries
#   store_procs STORE   pids of processes whose cwd lies inside STORE
#   stage_digests STORE prints "stage digest" of the last run, sorted

store_check() {
	_s=$1
	_bad=$(mktemp "${TMPDIR:-/tmp}/store-check.XXXXXX")
	# name<TAB>content digest of every object and manifest (few processes: the
	# machine may be busy, so no per-file loops)
	{
		[ -d "$_s/objects" ] && find "$_s/objects" -type f -exec sha256sum {} +
		[ -d "$_s/trees" ] && find "$_s/trees" -type f -exec sha256sum {} +
		[ -d "$_s/objects" ] && find "$_s/objects" "$_s/trees" -mindepth 1 -maxdepth 1 \
			! -name '??' -exec echo "STRAY" {} \;
		echo "SECTION manifests"
		[ -d "$_s/trees" ] && find "$_s/trees" -type f -exec awk \
			'FNR > 1 && ($1 == "f" || $1 == "x") { print "NEED", $2, FILENAME }' {} +
		echo "SECTION cache"
		# every entry, whatever its type: a link (cache/ab/<key> -> sha256-<tree
		# digest in base64url>), an older entry's file ("<tree hex>\n"), a fan-out
		# directory; anything else is reported
		[ -d "$_s/cache" ] && find "$_s/cache" -mindepth 1 \
			\( -type l -printf 'CLINK %P %l\n' \) -o \
			\( -type d -printf 'CDIR %P\n' \) -o \
			\( -type f -exec sh -c 'for f; do printf "CFILE %s %s\n" "${f#"$0"/}" \
				"$(tr "\n" " " <"$f")"; done' "$_s/cache" {} + \) -o \
			-printf 'COTHER %P\n'
		[ -d "$_s/out" ] && ls "$_s/out" | awk '{ print "OUT", $1 }'
		# (a run killed while creating the database leaves it without tables)
		[ -f "$_s/provenance.db" ] && [ "$(sqlite3 "$_s/provenance.db" \
			"SELECT count(*) FROM sqlite_master WHERE name = 'executions'")" = 1 ] &&
			sqlite3 "$_s/provenance.db" \
			"SELECT DISTINCT 'RECORDED', output_digest FROM executions
			 WHERE status IN ('ran', 'cached')" | tr '|' ' '
	} 2>&1 | awk '
		# base64url (RFC 4648, no padding) to lowercase hex; "" when it is not
		# canonical (a bad character, or non-zero bits left over)
		function b64hex(s,   i, v, bits, nb, d, out) {
			bits = 0; nb = 0; out = ""
			for (i = 1; i <= length(s); i++) {
				v = index(B64, substr(s, i, 1)) - 1
				if (v < 0) return ""
				bits = bits * 64 + v; nb += 6
				if (nb >= 8) { nb -= 8; d = int(bits / 2 ^ nb); out = out sprintf("%02x", d); bits -= d * 2 ^ nb }
			}
			return bits == 0 ? out : ""
		}
		BEGIN { B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" }
		$1 == "STRAY" { print "bad: stray " $2; next }
		$1 == "NEED" { if (!($2 in obj)) print "bad: object " $2 " of " $3 " is missing"; next }
		$1 == "CDIR" { if ($2 !~ /^[0-9a-f][0-9a-f]$/) print "bad: stray cache/" $2; next }
		$1 == "COTHER" { print "bad: cache/" $2 " is neither a link, a file nor a directory"; next }
		$1 == "CLINK" || $1 == "CFILE" {
			n = split($2, p, "/"); key = p[n]
			if (n != 2 || key !~ /^[0-9a-f]+$/ || length(key) != 64 || substr(key, 1, 2) != p[1]) {
				print "bad: cache/" $2 " is not named cache/<2 hex>/<64 hex key>"; next }
			if ($1 == "CLINK") {
				t = ""
				if (NF == 3 && length($3) == 50 && substr($3, 1, 7) == "sha256-") t = b64hex(substr($3, 8))
				if (t == "") { print "bad: cache entry cache/" $2 " links to " $3 ", not sha256-<43 base64url>"; next }
			} else {
				t = $3
				if (NF != 3 || t !~ /^[0-9a-f]+$/ || length(t) != 64) { print "bad: cache entry cache/" $2 " holds " $3; next }
			}
			if (!(t in tree)) print "bad: cache entry cache/" $2 " names missing tree " t
			next }
		$1 == "OUT" { if (!($2 in tree)) print "bad: out/" $2 " has no manifest"; next }
		$1 == "RECORDED" { if (!($2 in tree)) print "bad: recorded output " $2 " has no manifest"; next }
		$1 == "SECTION" { next }
		NF == 2 && length($1) == 64 {
			n = split($2, p, "/"); name = p[n]; fan = p[n - 1]; kind = p[n - 2]
			if ($1 != name) print "bad: " $2 " has content digest " $1
			else if (substr(name, 1, 2) != fan) print "bad: " $2 " in the wrong directory"
			if (kind == "objects") obj[name] = 1; else tree[name] = 1
			next }
		{ print "bad: unexpected: " $0 }' >>"$_bad"
	if [ -f "$_s/provenance.db" ]; then
		_ic=$(sqlite3 "$_s/provenance.db" 'PRAGMA integrity_check' 2>&1)
		[ "$_ic" = ok ] || echo "bad: integrity_check: $_ic" >>"$_bad"
	fi
	cat "$_bad"
	[ ! -s "$_bad" ]
	_rc=$?
	rm -f "$_bad"
	return $_rc
}

# number of action-cache entries under STORE: links (and files, as written by
# older versions); 0 when there is no cache/ yet
cache_count() {
	[ -d "$1/cache" ] || { echo 0; return; }
	find "$1/cache" -mindepth 2 \( -type l -o -type f \) | wc -l | tr -d ' '
}

# pids of processes whose cwd lies inside directory $1 (stages run in work/*/cwd)
store_procs() {
	find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$1/*" 2>/dev/null |
		cut -d/ -f3
}

# wait (up to 5 s) until no process has its cwd inside STORE; 0 when none is left
wait_no_procs() {
	_i=0
	while [ -n "$(store_procs "$1")" ] && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	[ -z "$(store_procs "$1")" ]
}

stage_digests() {
	sqlite3 "$1/provenance.db" "SELECT stage_id, output_digest FROM executions
		WHERE run_id = (SELECT max(id) FROM runs) ORDER BY stage_id"
}

# a random integer in [0, $1)
rand_below() {
	echo $(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % $1 ))
}

# alive PID: the process exists and is not a zombie (pid 1 of a container may
# never reap the orphans it inherits)
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	_st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

# wait_dead PID: wait (up to 5 s) for PID to die; 0 when it did
wait_dead() {
	_i=0
	while alive "$1" && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	! alive "$1"
}
