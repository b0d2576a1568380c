# Thin wrapper: the real build is CMake. See README.md.
BUILD ?= build
CMAKE_FLAGS ?=
PORT ?= 4567
DATA ?= ./kinesin-data

.PHONY: all build deps run test unit asan fuzz bench clean format install

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$$(nproc) -- --no-print-directory

# Installs the programs, libkinesin (.so, .a, headers, kinesin.pc) and man pages under PREFIX
# (default /usr/local), staged under DESTDIR when set.
PREFIX ?= /usr/local
install: build
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j$$(nproc) -- --no-print-directory
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)

run: build
	$(BUILD)/bin/kinesind --host 127.0.0.1 --port $(PORT) --data-dir $(DATA)

test: build
	@scripts/install-deps.sh test
	@cd $(BUILD) && ctest --output-on-failure -j2 $(CTEST_ARGS)

# The same suite against an ASan + UBSan build (any report fails the test it shows up in).
asan: deps
	@scripts/install-deps.sh test
	@cmake -S . -B build-asan -DKN_SANITIZE=ON -DKN_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-asan -j$$(nproc) -- --no-print-directory
	@cd build-asan && ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
	    UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
	    ctest --output-on-failure -j2 $(CTEST_ARGS)

# libFuzzer targets for the parsers of untrusted bytes (clang): FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz: deps
	@tests/fuzz/run $(FUZZ_SECONDS)

unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	@bench/run

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
