# Build fragment for the embedded study's engine (stages/toyllm), included by the
# top-level Makefile. Owns: the `engine` target ($(STAGEBIN)/toyllm) and
# `engine-tests-bin` (test programs $(BUILD)/tests/engine/test_*).
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
KERN_OBJ := $(addprefix $(BUILD)/stages/toyllm/,kern_portable.o kern_x86v3.o kern_x86v4.o)
$(KERN_OBJ): CFLAGS += -fno-math-errno -fno-trapping-math
ifneq ($(filter x86_64%,$(shell $(CC) -dumpmachine)),)
$(BUILD)/stages/toyllm/kern_x86v3.o: CFLAGS += -march=x86-64-v3
$(BUILD)/stages/toyllm/kern_x86v4.o: CFLAGS += -march=x86-64-v4
endif
$(ENGINE_TEST_OBJ): CFLAGS += -Istages/toyllm

.PHONY: engine engine-tests-bin
engine: $(TOYLLM_BIN)
engine-tests-bin: $(ENGINE_TEST_BIN)

$(TOYLLM_BIN): $(TOYLLM_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -lm

$(BUILD)/tests/engine/test_%: $(BUILD)/tests/engine/test_%.o $(TOYLLM_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -lm

-include $(TOYLLM_OBJ:.o=.d) $(ENGINE_TEST_OBJ:.o=.d)
