# Build fragment for the embedded study's engine (stages/toyllm), included by the
# top-level Makefile. Owns: the `engine` target (stages/bin/toyllm) and
# `engine-tests-bin` (test programs under $(BUILD)/tests/engine).
TOYLLM_SRC  := $(sort $(wildcard stages/toyllm/*.c))
TOYLLM_OBJ  := $(TOYLLM_SRC:%.c=$(BUILD)/%.o)
TOYLLM_BIN  := $(STAGEBIN)/toyllm

.PHONY: engine engine-tests-bin
engine: $(if $(TOYLLM_SRC),$(TOYLLM_BIN))
engine-tests-bin:
