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
$(TOYLLM_OBJ) $(ENGINE_TEST_OBJ): CFLAGS += -pthread -ffp-contract=off -fno-fast-math
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
