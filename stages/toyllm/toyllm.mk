# Build fragment for the embedded study's engine (stages/toyllm), included by the
# top-level Makefile. Owns: the `engine` target ($(STAGEBIN)/toyllm),
# `engine-tests-bin` (test programs $(BUILD)/tests/engine/test_*) and
# `engine-isa` (the engine for fixed ISA levels, for tests/engine/t0300).
# Numerics stay deterministic: -O3 but no -ffast-math, no -march=native, and
# -ffp-contract=off comes from the top-level CFLAGS.
TOYLLM_SRC  := $(sort $(wildcard stages/toyllm/*.c))
TOYLLM_OBJ  := $(TOYLLM_SRC:%.c=$(BUILD)/%.o)
TOYLLM_LIB  := $(filter-out $(BUILD)/stages/toyllm/main.o,$(TOYLLM_OBJ))
TOYLLM_BIN  := $(STAGEBIN)/toyllm

ENGINE_TEST_SRC := $(sort $(wildcard tests/engine/test_*.c))
ENGINE_TEST_OBJ := $(ENGINE_TEST_SRC:%.c=$(BUILD)/%.o)
ENGINE_TEST_BIN := $(ENGINE_TEST_SRC:tests/engine/%.c=$(BUILD)/tests/engine/%)

ifneq ($(SAN),1)
$(TOYLLM_OBJ): CFLAGS += -O3
endif
$(TOYLLM_OBJ) $(ENGINE_TEST_OBJ): CFLAGS += -pthread -ffp-contract=off -fno-fast-math $(TOYLLM_ARCH)
# The arithmetic (kern_impl.h) is built once per instruction-set level and
# chosen at run time (kernels.c); every level computes the same bits. Only
# these two objects get wider instructions. -fno-math-errno (errno is never
# set) and -fno-trapping-math (no floating-point exception traps, so compares
# may run on every lane) let sqrtf and the clamps in exp vectorise; neither
# changes a value, unlike -ffast-math (no reassociation, no contraction here).
# -Wno-psabi: 16-lane generic vectors only pass between always-inline helpers,
# so no calling convention depends on the level.
KERN_OBJ := $(addprefix $(BUILD)/stages/toyllm/,kern_portable.o kern_x86v3.o kern_x86v4.o)
$(KERN_OBJ): CFLAGS += -fno-math-errno -fno-trapping-math -Wno-psabi
ifneq ($(filter x86_64%,$(shell $(CC) -dumpmachine)),)
$(BUILD)/stages/toyllm/kern_x86v3.o: CFLAGS += -march=x86-64-v3
$(BUILD)/stages/toyllm/kern_x86v4.o: CFLAGS += -march=x86-64-v4
endif
$(ENGINE_TEST_OBJ): CFLAGS += -Istages/toyllm

.PHONY: engine engine-tests-bin engine-isa
engine: $(TOYLLM_BIN)
engine-tests-bin: $(ENGINE_TEST_BIN)

# `make engine-isa`: toyllm built with -march=x86-64 (baseline) and with
# -march=x86-64-v3 into build/isa/LEVEL/bin/toyllm (objects beside it), plain
# flags whatever SAN says, leaving the normal build directories alone. The
# determinism test compares their models with the normal build's.
ISA_LEVELS := x86-64 x86-64-v3
engine-isa:
ifneq ($(filter x86_64%,$(shell $(CC) -dumpmachine)),)
	@for l in $(ISA_LEVELS); do \
	  $(MAKE) --no-print-directory SAN= BUILD=build/isa/$$l STAGEBIN=build/isa/$$l/bin \
	    TOYLLM_ARCH=-march=$$l engine || exit 1; \
	done
endif

$(TOYLLM_BIN): $(TOYLLM_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -lm

$(BUILD)/tests/engine/test_%: $(BUILD)/tests/engine/test_%.o $(TOYLLM_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -lm

-include $(TOYLLM_OBJ:.o=.d) $(ENGINE_TEST_OBJ:.o=.d)
