# Switchboard: `make run` serves, `make test` tests. Everything else is optional.
BUILD ?= build
JOBS  ?= 2

.PHONY: all deps build run test unit integration bench asan check format clean

all: build

deps:
	@bash tools/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@bash tools/run.sh

test: build
	@bash tools/test.sh $(BUILD)

unit: build
	@ctest --test-dir $(BUILD) -L unit --output-on-failure

integration: build
	@ctest --test-dir $(BUILD) -L integration --output-on-failure

bench: build
	@bash bench/run.sh $(BUILD)

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DENABLE_ASAN=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@bash tools/test.sh build-asan

check: build
	@bash tools/check-format.sh
	@bash tools/check-banned.sh
	@bash tools/check-cppcheck.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan
