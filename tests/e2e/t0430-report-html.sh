#!/bin/sh
# `study report`: one self-contained HTML page per run, checked as text and
# then in a real browser. Debian's chromium (installed here when missing, as
# `make deps` installs libraries) loads the page headless with no network;
# tests/e2e/browser.py drives it through the DevTools protocol: no console
# error, no network request, every stage in the DAG and the stage table with
# its status colour, every metric linked to its stage, sorting, nothing
# clipped, a screenshot that is neither blank nor cut. Three pages, three
# browser launches: the example study (its screenshot is the README's), a
# second run of it with a failure (every status but one), and the quick study
# (plain suite only: it trains models). Screenshots are kept in
# $BUILD/test-artifacts/.
. "$(dirname "$0")/lib.sh"
ART="$TOP/${BUILD:-build/plain}/test-artifacts"
mkdir -p "$ART"
cd "$TMP" || exit 1

# ---- the browser: installed when missing; the browser checks are skipped
# only when it cannot be installed
need_pkg() { # need_pkg COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	command -v apt-get >/dev/null 2>&1 || return 1
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	echo "# installing $2 (for the browser checks)"
	{ $SUDO apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
			-o DPkg::Lock::Timeout=600 "$2"; } >install.log 2>&1 ||
		sed 's/^/#   /' install.log | tail -5
	command -v "$1" >/dev/null 2>&1
}
BROWSER=
if need_pkg python3 python3 && need_pkg chromium chromium; then
	BROWSER=$(command -v chromium)
fi
# browser_check PAGE LABEL RUN STORE: the DOM, console, network and picture
# checks (tests/e2e/browser.py), expecting exactly the stages run RUN recorded
browser_check() {
	if [ -z "$BROWSER" ]; then
		echo "ok - $2: the page in a browser # SKIP chromium or python3 cannot be installed here"
		return
	fi
	"$STUDY" show "$3" --store "$4" --json >"$2-run.json" &&
		"$STUDY" results --run "$3" --store "$4" --format json >"$2-metrics.json" &&
		python3 -c '
import json, sys
run = json.load(open(sys.argv[1]))
metrics = json.load(open(sys.argv[2]))
json.dump({"stages": {e["stage"]: e["status"] for e in run["executions"]},
           "metrics": len(metrics)}, open(sys.argv[3], "w"))' \
			"$2-run.json" "$2-metrics.json" "$2-expect.json"
	check_eq "$2: the expected stages are known" "$?" 0
	python3 "$TOP/tests/e2e/browser.py" "$BROWSER" "$1" "$2-expect.json" "$ART/report-$2.png" "$2"
	check_eq "$2: every browser check passed" "$?" 0
}

# ---- the example study, straight from the repository (so that the page
# names its commit); the store is ours
S="$TMP/store"
(cd "$TOP" && "$STUDY" run studies/example.yaml --store "$S" -j 2) >run1.out 2>&1
check_eq "the example study runs" "$?" 0
"$STUDY" report --store "$S" --out ex.html >rep.out 2>rep.err
check_eq "study report exits 0" "$?" 0
check "... and says what it wrote" grep -qE '^ex.html: run 1 of example, 26 stages, [0-9]+ bytes$' rep.out
check "... silently" test ! -s rep.err
check "the page is HTML" sh -c "head -c 15 ex.html | grep -q '<!DOCTYPE html>'"
n=$(grep -o '<g class="node [^"]*" data-stage="[^"]*"' ex.html | sort -u | wc -l)
check_eq "the DAG has a node per stage" "$n" 26
n=$(grep -c '<tr id="s-' ex.html)
check_eq "the stage table has a row per stage" "$n" 26
urls=$(grep -oE '(https?|ftp|wss?)://[^"'\'' )<]*' ex.html | grep -v '^http://www.w3.org/2000/svg$' | sort -u)
check_eq "the page refers to nothing outside it (no URL but the SVG namespace)" "$urls" ""
check "it has no external script, style or font" sh -c "! grep -qiE '<script[^>]+src|<link|@import|@font-face' ex.html"
check "the header names the study file and its digest" grep -qF 'studies/example.yaml</span>, sha256 ' ex.html
if git -C "$TOP" rev-parse HEAD >/dev/null 2>&1; then
	head=$(git -C "$TOP" rev-parse HEAD)
	check "the header names the commit" grep -qF "<td id=\"commit\"><span class=\"mono\">$head</span>" ex.html
fi
check "the header names the executor" grep -qF 'local processes, -j 2 cpu slots' ex.html
check "the header has the counts" grep -qF '26: ran 26, cached 0, failed 0, interrupted 0, skipped 0, not started 0' ex.html
check "a first run says why each stage ran" grep -qF 'ran: its first execution in this store' ex.html
check "the critical path is named" grep -qE 'id="critical-path">Critical path .* over [0-9]+ stages' ex.html
n=$(grep -o 'class="node [^"]* crit"' ex.html | wc -l)
check "the critical path is marked in the DAG" test "$n" -ge 3
check "the timeline has a bar per execution that ran" sh -c "[ \$(grep -o '<g class=\"bar ' ex.html | wc -l) -ge 1 ]"
check "a metric value links to its stage and names its lineage command" \
	grep -qF 'href="#s-eval/accuracy/small/halve" data-stage="eval/accuracy/small/halve" data-metric="accuracy"' ex.html
check "a stage's details give its command with inputs and output symbolic" \
	grep -qE 'command: <code>[^<]*toystage score --model \$\{model\} --task accuracy --out \$\{out\}</code>' ex.html
check "... and each input's stage and digest" \
	grep -qE 'model = <a href="#s-method/halve/small">method/halve/small</a> <code>[0-9a-f]{64}</code>' ex.html
check "the report stage's report.md is embedded" grep -qF '<h3>toy report</h3>' ex.html
cp ex.html "$ART/report-example.html"
browser_check ex.html example 1 "$S"

# ---- the same study again, with one change and one broken method:
# ran, cached, failed and skipped stages on one page
copy_study "$TOP/studies/example.yaml" example.yaml
sed -e 's/params: {factor: 0.5}/params: {factor: 0.25}/' \
	-e 's/params: {factor: -1}/params: {factor: oops}/' example.yaml >broken.yaml
"$STUDY" run broken.yaml --store "$S" -j 2 --keep-going >run2.out 2>&1
rc=$?
check_eq "the broken copy fails (exit 1)" "$rc" 1
"$STUDY" report --store "$S" --run latest --out mixed.html >/dev/null 2>&1
check_eq "study report --run latest exits 0" "$?" 0
check "it reports run 2" grep -qF '<h1>example — run 2</h1>' mixed.html
for st in ran cached failed skipped; do
	check "run 2 has $st stages, in their colour class" grep -qF "class=\"node st-$st" mixed.html
done
check "a changed stage says what changed and since when" \
	grep -qE 'ran: changed: (argv, )?params \(vs execution [0-9]+, run 1\)' mixed.html
check "a cache hit names the execution that produced it" \
	grep -qE 'cache hit: the output of execution [0-9]+ \(run 1\)' mixed.html
check "a skipped stage says which upstream failed" grep -qF "upstream &#39;method/flip/small&#39; failed" mixed.html
check "a failed stage's exit status is in the table" grep -qE '<td data-v="2">2</td>' mixed.html
check "the report stage did not run: the page says so" grep -qF "has no output in this run" mixed.html
"$STUDY" report --store "$S" --run 1 --out - >stdout.html 2>/dev/null
check_eq "--out - writes the page to stdout" "$?" 0
check "... the page of run 1" cmp -s stdout.html ex.html
browser_check mixed.html mixed 2 "$S"

# ---- bad input: exact messages, exit status, nothing written
"$STUDY" report --store "$S" --run 99 --out x.html >out 2>err
check_eq "an unknown run is refused (exit 2)" "$?" 2
check_eq "... with its message" "$(cat err)" "study: error: no run 99 recorded (see 'study log')"
"$STUDY" report --store "$S" --run abc >out 2>err
check_eq "a run that is not a number is refused (exit 2)" "$?" 2
check_eq "... with its message" "$(cat err)" "study: error: invalid run 'abc' (a run id from 'study log', or latest)"
"$STUDY" report --store "$S" --out "" >out 2>err
check_eq "an empty --out is refused (exit 2)" "$?" 2
check_eq "... with its message" "$(cat err)" "study: error: --out needs a file name ('-' for stdout)"
"$STUDY" report --store "$S" extra >out 2>err
check_eq "an extra argument is refused (exit 2)" "$?" 2
check "... naming it" grep -qxF "study: error: unexpected argument 'extra'" err
"$STUDY" report --store "$TMP/nothing" >out 2>err
check_eq "a store without provenance is refused (exit 2)" "$?" 2
check_eq "... with its message" "$(cat err)" "study: error: no provenance database at '$TMP/nothing/provenance.db' (has a study been run with this store?)"
"$STUDY" report --store "$S" --out "$TMP/no/such/dir/r.html" >out 2>err
check_eq "an unwritable --out fails (exit 1)" "$?" 1
check "... saying why" grep -qE "^study: error: cannot (write|rename) .*no/such/dir/r.html.*No such file or directory" err
check "... writing nothing" test ! -e "$TMP/no/such/dir"
mkdir ro && chmod 555 ro
"$STUDY" report --store "$S" --out ro/r.html >out 2>err
rc=$?
if [ "$(id -u)" = 0 ]; then
	check_eq "as root a read-only directory is still written (exit 0)" "$rc" 0
else
	check_eq "a read-only directory fails (exit 1)" "$rc" 1
fi
check "no temporary file is left next to --out" sh -c "! ls -A ro . | grep -q '^\.tmp-'"
chmod 755 ro

# ---- study results --format
"$STUDY" results --store "$S" --run 1 --format csv >r.csv
check_eq "results --format csv exits 0" "$?" 0
"$STUDY" results --store "$S" --run 1 --format json >r.json
check "the CSV has a header and a row per metric, and reads back as the JSON's values exactly" python3 -c '
import csv, json, sys
rows = list(csv.DictReader(open("r.csv", newline="")))
js = json.load(open("r.json"))
assert list(rows[0].keys()) == ["evaluation", "model", "variant", "metric", "value", "n",
                                "ci_low", "ci_high", "stage", "execution_id"], rows[0].keys()
assert len(rows) == len(js) > 0, (len(rows), len(js))
for r, j in zip(rows, js):
    assert r["stage"] == j["stage"] and r["metric"] == j["metric"], (r, j)
    assert float(r["value"]) == j["value"], (r["value"], j["value"])
    for k in ("n", "ci_low", "ci_high"):
        assert (r[k] == "") == (j[k] is None), (k, r, j)
        assert r[k] == "" or float(r[k]) == j[k], (k, r, j)
    assert (r["evaluation"] or None) == j["evaluation"], (r, j)
'
n=$("$STUDY" results --store "$S" --run 1 --format md | grep -c '^|')
m=$(python3 -c 'import json; print(len(json.load(open("r.json"))) + 2)')
check_eq "results --format md: a header, its rule and a row per metric" "$n" "$m"
check "the md table's header names the columns" sh -c "'$STUDY' results --store '$S' --format md | head -1 | grep -qxF '| evaluation | model | variant | metric | value | n | ci_low | ci_high | stage | execution |'"
"$STUDY" results --store "$S" --format json >a.json && "$STUDY" results --store "$S" --json >b.json
check "--format json is --json" cmp -s a.json b.json
"$STUDY" results --store "$S" --format xml >out 2>err
check_eq "an unknown format is refused (exit 2)" "$?" 2
check_eq "... with its message" "$(cat err)" "study: error: unknown format 'xml' (use table, csv, json or md)"
"$STUDY" results --store "$S" --format csv --json >out 2>err
check_eq "--json with another --format is refused (exit 2)" "$?" 2
check_eq "... with its message" "$(cat err)" "study: error: --json and --format disagree; give one of them"

# ---- the quick study: the report stage's charts embedded (plain suite only)
if [ "${SAN:-}" = 1 ]; then
	echo "ok - quick study page # SKIP under SAN=1: the plain suite checks it, once (it trains models)"
	done_testing
	exit
fi
Q="$TMP/qstore"
copy_study "$TOP/studies/quick.yaml" quick.yaml
"$STUDY" run quick.yaml -j 2 --store "$Q" >runq.out 2>&1
check_eq "the quick study runs" "$?" 0
t0=$(date +%s%N)
"$STUDY" report --store "$Q" --out quick.html >/dev/null
check_eq "its page is written" "$?" 0
echo "# t0430: the quick study's page: $(wc -c <quick.html) bytes in $((($(date +%s%N) - t0) / 1000000)) ms"
n=$(grep -o 'src="data:image/svg+xml;base64,' quick.html | wc -l)
check "the report stage's charts (one per metric, 12 or more) are embedded as data: URLs ($n)" test "$n" -ge 12
check "its findings table is rendered" grep -qF '<th>claim</th><th>verdict</th><th>paper</th>' quick.html
check "a finding's test names its table" grep -qF '<code>refusal_rate_jailbreak</code>' quick.html
cp quick.html "$ART/report-quick.html"
browser_check quick.html quick 1 "$Q"
done_testing
