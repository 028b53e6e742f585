# Shared helpers for the end-to-end tests (sourced, POSIX sh).
# Each test prints "ok - what" or "not ok - what"; tests/run-all.sh counts them.
# Environment: STUDY_BIN (the study binary under test), set by the Makefile;
# falls back to bin/study for a manual run from the repo root.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
STUDY=${STUDY_BIN:-$TOP/bin/study}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/study-e2e.XXXXXX")
trap 'chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
FAILS=0

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
check() { # check "what" command...
	what=$1; shift
	if "$@"; then ok "$what"; else notok "$what"; fi
}
check_eq() { # check_eq "what" got want
	if [ "$2" = "$3" ]; then ok "$1"; else notok "$1"; echo "#   got:  $2"; echo "#   want: $3"; fi
}
done_testing() { [ "$FAILS" -eq 0 ]; }

# A copy of a study file whose root is the repository, so that it can live
# anywhere: copy_study SRC DEST
copy_study() {
	{ echo "root: $TOP"; grep -v '^root:' "$1"; } >"$2"
}

# Field of the one-line JSON summary: json_field FIELD < summary
json_field() {
	sed -n "s/.*\"$1\":\([0-9a-z\"]*\).*/\1/p" | tr -d '"'
}

# json_has TEXT KEY VALUE: TEXT contains "KEY": VALUE (any whitespace between)
json_has() {
	printf '%s\n' "$1" | grep -qE "\"$2\":[[:space:]]*$3"
}
