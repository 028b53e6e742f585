# Top-level build: the orchestrator (bin/study), the stage programs (stages/bin/*),
# the test suite (plain and sanitized) and the user-facing entry points.
#
#   make            build everything
#   make run        install missing deps, build, run the default study
#   make test       install missing deps, build, run unit + end-to-end tests,
#                   then the same again under AddressSanitizer + UBSan
#   make deps       install Debian -dev packages when missing (idempotent)

CC      ?= cc
PKGS    := yaml-0.1 sqlite3 libgit2 libcjson libcrypto
DEBPKGS := libyaml-dev libsqlite3-dev libgit2-dev libcjson-dev libssl-dev pkg-config sqlite3 git \
           python3-torch python3-numpy python3-regex python3-jinja2 libopenblas0-pthread
# python3-* and OpenBLAS: the real-model stage kit (stages/llm, docs/real-models.md);
# without libopenblas0-pthread torch's CPU matmuls fall back to the reference BLAS.
# Test-only: node and npm (the kit's independent references, tests/llm/npm-refs.sh).
TESTPKGS := nodejs npm

# SAN=1 builds everything under build/san with ASan + UBSan.
ifeq ($(SAN),1)
BUILD     := build/san
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT       := -O1
else
BUILD     := build/plain
SANFLAGS  :=
OPT       := -O2
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libgit2 is not linked: pipeline/gitinfo.c loads it with dlopen() when the git
# state is read, keeping its 13 dependencies out of every command's start-up.
# libcrypto is linked statically where its archive is installed (libssl-dev
# ships it): hash.c uses SHA256_* and base64 only, a few objects, where the
# shared library costs 0.5 ms of relocations at every start (docs/benchmarks.md).
CRYPTO_A   := $(wildcard $(shell $(CC) -print-file-name=libcrypto.a))
CRYPTO_STATIC := -Wl,-Bstatic -lcrypto -Wl,-Bdynamic
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libgit2 $(if $(CRYPTO_A),libcrypto),$(PKGS)) 2>/dev/null) \
	      $(if $(CRYPTO_A),$(CRYPTO_STATIC))

# Reproducible across checkouts (issue 11): the binaries are hashed as code into
# every cache key, so no build path may end up in them. The compiler records its
# working directory (DWARF DW_AT_comp_dir) and source paths (debug info, __FILE__):
# map the checkout to "." - its physical path (make's CURDIR) and, when it was
# entered through a symbolic link, the logical $PWD that gcc records instead.
# Nothing else varies: no __DATE__/__TIME__, the build id is a hash of the
# contents, objects are linked in sorted order. tests/e2e/t0105 checks it.
REPRO   := -ffile-prefix-map=$(CURDIR)=.
ifneq ($(PWD),$(CURDIR))
ifeq ($(realpath $(PWD)),$(CURDIR))
REPRO   += -ffile-prefix-map=$(PWD)=.
endif
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -g $(REPRO) $(WARN) -ffp-contract=off $(SANFLAGS) -MMD -MP
LDFLAGS := $(SANFLAGS)

# Binaries land in bin/ and stages/bin/ for the plain build, under $(BUILD) for SAN=1,
# so a sanitized build never replaces what `make run` uses.
ifeq ($(SAN),1)
BINDIR   := $(BUILD)/bin
STAGEBIN := $(BUILD)/stages/bin
else
BINDIR   := bin
STAGEBIN := stages/bin
endif

# ---- the orchestrator -------------------------------------------------------
PIPE_SRC  := $(sort $(wildcard pipeline/*.c))
PIPE_OBJ  := $(PIPE_SRC:%.c=$(BUILD)/%.o)
PIPE_LIB  := $(filter-out $(BUILD)/pipeline/main.o,$(PIPE_OBJ))
STUDY_BIN := $(BINDIR)/study
# the stage launcher (pipeline/launcher): static, libc only, never sanitized, so
# that its own pages stay out of the stage's measured peak RSS
EXEC_BIN  := $(BINDIR)/study-exec

# ---- toy stages used by studies/example.yaml ---------------------------------
TOY_SRC := $(sort $(wildcard stages/toy/*.c))
TOY_OBJ := $(TOY_SRC:%.c=$(BUILD)/%.o)
TOY_BIN := $(STAGEBIN)/toystage

# ---- the report stage (links cJSON) -------------------------------------------
REPORT_SRC := $(sort $(wildcard stages/report/*.c))
REPORT_OBJ := $(REPORT_SRC:%.c=$(BUILD)/%.o)
REPORT_BIN := $(STAGEBIN)/study-report

# ---- unit tests ----------------------------------------------------------------
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)

.PHONY: all deps test-deps run test test-suite unit e2e malformed check-banned clean help
.DEFAULT_GOAL := all

all: check-banned $(STUDY_BIN) $(EXEC_BIN) $(TOY_BIN) $(REPORT_BIN) engine

# The engine (issue 3) brings its own fragment: it defines the `engine` target
# (stages/bin/toyllm) and `engine-tests`. It sees $(BUILD), $(STAGEBIN), $(SANFLAGS).
include stages/toyllm/toyllm.mk

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -iquote pipeline -c $< -o $@

# gitinfo.c's stand-ins for mbedTLS's CA loading, seen by the libgit2 it loads
GIT_EXPORTS := -Wl,--export-dynamic-symbol=mbedtls_x509_crt_parse_file \
	       -Wl,--export-dynamic-symbol=mbedtls_x509_crt_parse_path

$(STUDY_BIN): $(PIPE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(PKG_LIBS) -lm $(GIT_EXPORTS)

$(EXEC_BIN): pipeline/launcher/study-exec.c pipeline/launcher/launch.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 $(REPRO) $(WARN) -static -o $@ $<

$(TOY_BIN): $(TOY_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

$(REPORT_BIN): $(REPORT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libcjson 2>/dev/null) -lm

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(PIPE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(PKG_LIBS) -lm

# Banned functions (git's banned.h idea, checked by grep so system headers stay untouched).
BANNED := strcpy|strcat|sprintf|vsprintf|strtok|gets|strncpy|strncat
check-banned:
	@if grep -nE '(^|[^_a-zA-Z0-9])($(BANNED))[[:space:]]*\(' \
	    $$(find pipeline stages tests bench -name '*.[ch]' 2>/dev/null); then \
	  echo "error: banned function used (see above); use strbuf or snprintf" >&2; exit 1; fi

# ---- dependencies ----------------------------------------------------------------
deps:
	@missing=""; for p in $(DEBPKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# node/npm may come from elsewhere than Debian (NodeSource): look for the commands.
test-deps:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "installing: $(TESTPKGS)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(TESTPKGS); \
	fi

# ---- the main job ---------------------------------------------------------------
STUDY ?= studies/six-models.yaml
run: deps
	$(MAKE) all
	./bin/study run $(STUDY) -j $$(nproc)
	@out=$$(./bin/study show report | awk '/^output/ { getline; print $$1 }'); \
	  [ -z "$$out" ] || echo "report: $$out/report.md (and report.json)"

# ---- tests -------------------------------------------------------------------------
# `make test` = plain suite, then the sanitized suite.
test: deps test-deps
	@rm -f build/plain/test-counts build/san/test-counts
	@st=0; $(MAKE) --no-print-directory test-suite || st=1; \
	$(MAKE) --no-print-directory SAN=1 test-suite || st=1; \
	cat build/plain/test-counts build/san/test-counts 2>/dev/null | \
	  awk '{p += $$1; f += $$2; s += $$3} END {printf "%d passed, %d failed, %d skipped\n", p, f, s}'; \
	exit $$st

test-suite: all $(UNIT_BIN) engine-tests-bin engine-isa
	@STUDY_BIN=$(abspath $(STUDY_BIN)) TOY_BIN_DIR=$(abspath $(STAGEBIN)) \
	  UNIT_DIR=$(abspath $(BUILD)/tests/unit) BUILD=$(BUILD) SAN=$(SAN) \
	  sh tests/run-all.sh

clean:
	rm -rf build bin stages/bin

help:
	@sed -n '1,12p' Makefile

-include $(PIPE_OBJ:.o=.d) $(TOY_OBJ:.o=.d) $(REPORT_OBJ:.o=.d) $(UNIT_BIN:=.d)
.SECONDARY:

# ---- benchmarks (issue 6; docs/benchmarks.md) ------------------------------------
# `make bench`: study vs ninja, make and Snakemake at ~100, 1,000 and 10,000 tasks,
# hashing throughput, the no-op rerun of a real study; writes bench/results/latest.*;
# then the engine against PyTorch on an optimised BLAS, 1 and 2 threads
# (bench/engine/run.sh, docs/engine.md), into bench/results/engine-latest.txt.
# `make bench-quick`: 100 and 1,000 tasks, under 3 minutes. Installs the peers from
# Debian when missing. Scratch data goes to /tmp/study-bench.
BENCHPKGS := snakemake ninja-build hyperfine time python3
.PHONY: bench bench-quick bench-deps
bench-deps:
	@missing=""; for p in $(BENCHPKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

bench: deps bench-deps
	$(MAKE) --no-print-directory all
	/usr/bin/python3 bench/bench.py
	bash -o pipefail -c 'sh bench/engine/run.sh | tee bench/results/engine-latest.txt'

bench-quick: deps bench-deps
	$(MAKE) --no-print-directory all
	/usr/bin/python3 bench/bench.py --quick

# ---- reliability (issue 7, docs/reliability.md) ---------------------------------
# make fuzz [FUZZ_TIME=seconds]   libFuzzer on the study loader + expansion (clang)
# make stress [KILLS=N]           the kill -9 test with N kills (default 120)
# make check-valgrind             the end-to-end tests with bin/study under valgrind
FUZZ_TIME ?= 60
.PHONY: fuzz fuzz-merge stress check-valgrind
fuzz:
	@command -v clang >/dev/null || { SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq clang; }
	sh tests/fuzz/run.sh $(FUZZ_TIME)

fuzz-merge:
	sh tests/fuzz/run.sh merge

stress: all
	STUDY_BIN=$(abspath $(STUDY_BIN)) KILLS=$(or $(KILLS),120) sh tests/stress.sh

check-valgrind: deps
	$(MAKE) --no-print-directory all
	@command -v valgrind >/dev/null || { SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq valgrind; }
	sh tests/valgrind.sh
