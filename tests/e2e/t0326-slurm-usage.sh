#!/bin/sh
# End to end: bad uses of the SLURM executor are refused before anything
# runs or is recorded, with exit 2 and exactly these messages: an unknown
# executor, SLURM's options without --executor slurm, the local executor's
# options with it, an sbatch option the executor sets itself, one that is
# not an option, no SLURM installed. On a cluster (else those SKIP): a
# partition that does not exist, a stage asking for more CPUs, memory or
# GPUs than the largest node has. (The study file's executor: block:
# tests/malformed/32*.)
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/slurm/lib.sh"
cd "$TOP"
S="$TMP/s"
pre=
refused() { # refused "what" "message" ARGS...: exit 2, that stderr, no store
	what=$1 want=$2
	shift 2
	$pre "$STUDY" run "$@" >/dev/null 2>"$TMP/err"
	rc=$?
	check_eq "$what: exit 2" "$rc" 2
	check_eq "$what: the message" "$(cat "$TMP/err")" "$want"
	check "$what: no store created" [ ! -e "$S" ]
}
refused "--executor pbs" "study: error: --executor wants local or slurm, not 'pbs'" \
	studies/example.yaml --store "$S" --executor pbs
refused "--partition without slurm" \
	"study: error: --partition, --account and --slurm-opt are for --executor slurm" \
	studies/example.yaml --store "$S" --partition gpu
refused "--slurm-opt with --executor local" \
	"study: error: --partition, --account and --slurm-opt are for --executor slurm" \
	studies/example.yaml --store "$S" --executor local --slurm-opt=--qos=low
refused "--mem-limit with slurm" \
	"study: error: --mem-limit and --gpus are for the local executor: on SLURM each stage's resources.mem and resources.gpus go to sbatch" \
	studies/example.yaml --store "$S" --executor slurm --mem-limit 1G
refused "--slurm-opt --output" \
	"study: error: --slurm-opt: SLURM option '--output=x': the executor sets --output itself (each stage's own log)" \
	studies/example.yaml --store "$S" --executor slurm --slurm-opt --output=x
refused "--slurm-opt -J" \
	"study: error: --slurm-opt: SLURM option '-Jname': the executor sets -J itself (the stage's id)" \
	studies/example.yaml --store "$S" --executor slurm --slurm-opt=-Jname
refused "--slurm-opt not an option" \
	"study: error: --slurm-opt: SLURM option 'qos=low' must start with '-' (one sbatch option, e.g. --qos=low)" \
	studies/example.yaml --store "$S" --executor slurm --slurm-opt qos=low
refused "--partition of two words" "study: error: --partition wants one word, not 'a b'" \
	studies/example.yaml --store "$S" --executor slurm --partition 'a b'
mkdir -p "$TMP/empty"
pre="env PATH=$TMP/empty"
refused "no SLURM here" \
	"study: error: the slurm executor: cannot find sbatch in PATH: is SLURM installed here?" \
	studies/example.yaml --store "$S" --executor slurm
pre=

if ! why=$(sh tests/slurm/ensure.sh); then
	ok "a partition that does not exist # SKIP $why"
	ok "a stage asking for more than a node has # SKIP $why"
	done_testing
	exit $?
fi
refused "a partition that does not exist" \
	"study: error: the slurm executor: SLURM has no partition 'nope' (sinfo lists no node in it)" \
	studies/example.yaml --store "$S" --executor slurm --partition nope
part=$(sinfo -h -o %P | sed -n 's/\*$//p' | head -n 1)
cpus=$(sinfo -h -N -p "$part" -o %c | sort -n | tail -n 1)
cat >"$TMP/big.yaml" <<YAML
study: big
root: $TOP
data:
  d: {run: [stages/bin/toystage, empty], resources: {cpus: $((cpus + 1))}}
YAML
col=$(awk 'NR == 4 { print index($0, "cpus: ") + 6 }' "$TMP/big.yaml")
refused "a stage asking for more CPUs than the largest node has" \
	"study: error: $TMP/big.yaml:4:$col: stage 'data/d' asks for $((cpus + 1)) cpus (resources.cpus), but the largest node of partition $part has $cpus CPUs" \
	"$TMP/big.yaml" --store "$S" --executor slurm
done_testing
