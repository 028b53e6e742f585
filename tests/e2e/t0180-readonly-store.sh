#!/bin/sh
# Issue 11, kind 6: an auditor can read a store they cannot write. Every
# command that only reads (log, show, why, results, verify, export, status, dag,
# hash, and `sqlite3 -readonly` as in docs/provenance.md) exits 0 and prints
# exactly what the store's owner sees, as an unprivileged user and on a
# read-only bind mount, and leaves every byte of the store as it was
# (provenance.db, -wal and -shm included). Also: a database last closed
# without its -wal/-shm (an older study) is read as immutable; one whose WAL
# holds data is read through its -shm, or without one is a clear error; one
# whose schema needs a migration is a clear error, and is not migrated.
# As root the reader is user nobody (setpriv, else su); otherwise the store is
# made read-only with chmod. The mount part needs mount(2), else it says SKIP.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
chmod 755 "$TMP"
copy_study studies/example.yaml "$TMP/ex.yaml"
chmod 644 "$TMP/ex.yaml"
S="$TMP/store"
st=0
for i in 1 2; do "$STUDY" run "$TMP/ex.yaml" --store "$S" >/dev/null 2>&1 || st=$?; done
check_eq "the example study runs twice" "$st" 0
check "the writer keeps provenance.db-wal and -shm" test -f "$S/provenance.db-wal" -a -f "$S/provenance.db-shm"
check_eq "the kept WAL is checkpointed and empty" "$(wc -c <"$S/provenance.db-wal" | tr -d ' ')" 0
OUT=$(ls "$S/out" | head -n 1)

# as_reader CMD...: run as a user who cannot write the store
if [ "$(id -u)" = 0 ]; then
	if command -v setpriv >/dev/null 2>&1 && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
		as_reader() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	else
		as_reader() { su -s /bin/sh nobody -c '"$0" "$@"' "$@"; }
	fi
	WHO="as user nobody"
else
	as_reader() { "$@"; }
	WHO="on a chmod a-w store"
fi

snapshot() { # every entry's path, type, mode and size; every file's SHA-256
	(cd "$1" && find . -printf '%p %y %m %s\n' | LC_ALL=C sort &&
		find . -type f -exec sha256sum {} + | LC_ALL=C sort)
}

# the read-only commands; run_all STORE PREFIX [RUNNER...] writes PREFIX.N,
# PREFIX.N.err, PREFIX.N.rc for each, then PREFIX.hash and PREFIX.sql
CMDS="log|log --json|show 1|show 2 --json|show data/corpus|show model/small --lineage|why model/small|show report --why --json|results|results --run 1 --json|results --compare 1 latest|verify|verify --json|export --format prov-json 2|status $TMP/ex.yaml|dag $TMP/ex.yaml"
echo "$CMDS" | tr '|' '\n' >"$TMP/cmds"
run_all() {
	store=$1 prefix=$2; shift 2
	i=0
	while read -r c; do
		i=$((i + 1))
		case $c in
		dag*) "$@" "$STUDY" $c >"$prefix.$i" 2>"$prefix.$i.err" ;;
		*) "$@" "$STUDY" $c --store "$store" >"$prefix.$i" 2>"$prefix.$i.err" ;;
		esac
		echo $? >"$prefix.$i.rc"
	done <"$TMP/cmds"
	"$@" "$STUDY" hash "$store/out/$OUT" | sed "s|$store|STORE|" >"$prefix.hash" 2>&1
	"$@" sqlite3 -readonly "$store/provenance.db" \
		"SELECT count(*), max(id) FROM runs; SELECT count(*) FROM executions" \
		>"$prefix.sql" 2>&1
	echo $? >"$prefix.sql.rc"
}
compare_all() { # compare_all PREFIX WHERE [STORE]: exit 0, same as the owner's output
	i=0
	while read -r c; do
		i=$((i + 1))
		check_eq "$2: study $c exits 0" "$(cat "$1.$i.rc")" 0
		[ "$(cat "$1.$i.rc")" = 0 ] || sed 's/^/#   /' "$1.$i.err"
		if [ -n "${3:-}" ]; then sed "s|$3|$S|g" "$1.$i" >"$1.$i.n"; else cp "$1.$i" "$1.$i.n"; fi
		check "$2: study $c prints what the owner sees" cmp -s "$1.$i.n" "$TMP/own.$i"
	done <"$TMP/cmds"
	check "$2: study hash prints what the owner sees" cmp -s "$1.hash" "$TMP/own.hash"
	check_eq "$2: sqlite3 -readonly exits 0" "$(cat "$1.sql.rc")" 0
	check_eq "$2: sqlite3 -readonly reads the runs" "$(cat "$1.sql")" "$(printf '2|2\n52')"
}

# 1. a user without write permission, right after the run (before any read
# by the owner)
before=$(snapshot "$S")
if [ "$(id -u)" != 0 ]; then chmod -R a-w "$S"; fi
run_all "$S" "$TMP/ro" as_reader
check "$WHO: the store's bytes are unchanged" test "$(snapshot "$S")" = "$before"
check_eq "$WHO: no tmp/ or work/ entry was created" "$(find "$S/tmp" "$S/work" -mindepth 1 | wc -l | tr -d ' ')" 0

# what the owner sees (these reads may update the -shm's read marks)
run_all "$S" "$TMP/own"
for f in "$TMP"/own.*.rc; do
	check_eq "owner: $(basename "$f") exits 0" "$(cat "$f")" 0
done
compare_all "$TMP/ro" "$WHO"
before=$(snapshot "$S")

# 2. a store last closed without its -wal/-shm (written by an older study):
# read as immutable, nothing created
O="$TMP/old"
cp -a "$S" "$O"; chmod -R u+w "$O"; rm -f "$O/provenance.db-wal" "$O/provenance.db-shm"
chmod -R a-w "$O"
oldsnap=$(snapshot "$O")
as_reader "$STUDY" log --store "$O" >"$TMP/old.out" 2>"$TMP/old.err"
check_eq "$WHO, no -wal/-shm: study log exits 0" "$?" 0
check "$WHO, no -wal/-shm: study log prints what the owner sees" cmp -s "$TMP/old.out" "$TMP/own.1"
check_eq "$WHO, no -wal/-shm: sqlite3 with immutable=1 reads the runs" \
	"$(as_reader sqlite3 -readonly "file:$O/provenance.db?immutable=1" 'SELECT count(*) FROM runs' 2>&1)" 2
check "$WHO, no -wal/-shm: nothing was created" test "$(snapshot "$O")" = "$oldsnap"

# 3. a WAL that still holds data (its writer was killed): with the -shm, the
# reader sees the data; without it, a clear error instead of stale data
W="$TMP/wal"
cp -a "$S" "$W"; chmod -R u+w "$W"
sqlite3 "$W/provenance.db" "INSERT INTO meta(key, value) VALUES ('probe', 'in the wal')" \
	".shell kill -9 \$PPID" >/dev/null 2>&1
check "the killed writer left data in the WAL" test -s "$W/provenance.db-wal"
chmod -R a-w "$W"
check_eq "$WHO, WAL with data: sqlite3 -readonly sees it" \
	"$(as_reader sqlite3 -readonly "$W/provenance.db" "SELECT value FROM meta WHERE key = 'probe'" 2>&1)" \
	"in the wal"
as_reader "$STUDY" log --store "$W" >/dev/null 2>&1
check_eq "$WHO, WAL with data: study log exits 0" "$?" 0
chmod u+w "$W"; rm -f "$W/provenance.db-shm"; chmod a-w "$W"
as_reader "$STUDY" log --store "$W" >/dev/null 2>"$TMP/wal.err"
check_eq "$WHO, WAL with data and no -shm: study log exits 2" "$?" 2
check_eq "$WHO, WAL with data and no -shm: the error says why and what to do" "$(cat "$TMP/wal.err")" \
	"study: error: provenance database '$W/provenance.db' has changes in its write-ahead log '$W/provenance.db-wal' that cannot be read without write access to its directory; open it once with write access (any study command run by the store's owner), then read it again"
if [ "$(id -u)" = 0 ]; then
	"$STUDY" log --store "$W" >/dev/null 2>&1
	as_reader "$STUDY" log --store "$W" >/dev/null 2>&1
	check_eq "after the owner read it once, the reader can" "$?" 0
fi

# 4. a schema that needs a migration: the reader does not migrate, it says so
V="$TMP/v2"
cp -a "$S" "$V"; chmod -R u+w "$V"
current=$(sqlite3 "$V/provenance.db" "PRAGMA user_version") # the schema this study writes
sqlite3 "$V/provenance.db" "PRAGMA user_version = 2" >/dev/null
chmod -R a-w "$V"
vsnap=$(snapshot "$V")
as_reader "$STUDY" log --store "$V" >/dev/null 2>"$TMP/v2.err"
check_eq "$WHO, schema version 2: study log exits 2" "$?" 2
check_eq "$WHO, schema version 2: the error says to upgrade with a run" "$(cat "$TMP/v2.err")" \
	"study: error: provenance database '$V/provenance.db' has schema version 2, older than $current; run a study with this store to upgrade it"
check "$WHO, schema version 2: the database was not migrated" test "$(snapshot "$V")" = "$vsnap"

# 5. a read-only bind mount
M="$TMP/mnt"
mkdir -p "$M"
if [ "$(id -u)" != 0 ] || ! mount --bind "$S" "$M" 2>/dev/null; then
	echo "ok - read-only bind mount # SKIP mount not permitted"
	done_testing
	exit
fi
if ! mount -o remount,ro,bind "$M" 2>/dev/null; then
	umount "$M"
	echo "ok - read-only bind mount # SKIP read-only remount not permitted"
	done_testing
	exit
fi
trap 'umount "$M" 2>/dev/null; chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
check "the bind mount is read-only" sh -c "! touch '$M/x' 2>/dev/null"
run_all "$M" "$TMP/mnt"
compare_all "$TMP/mnt" "read-only mount" "$M"
check "read-only mount: the store's bytes are unchanged" test "$(snapshot "$S")" = "$before"
umount "$M"
done_testing
