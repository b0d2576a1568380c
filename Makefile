# Thin wrapper: the real build is CMake. See README.md.
BUILD ?= build
CMAKE_FLAGS ?=
PORT ?= 4567
DATA ?= ./kinesin-data

.PHONY: all build deps run test unit bench clean format

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$$(nproc) -- --no-print-directory

run: build
	$(BUILD)/bin/kinesind --host 127.0.0.1 --port $(PORT) --data-dir $(DATA)

test: build
	@scripts/install-deps.sh test
	@cd $(BUILD) && ctest --output-on-failure -j2 $(CTEST_ARGS)

unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	@bench/run

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
