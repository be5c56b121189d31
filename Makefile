# Switchboard: `make run` serves, `make test` tests. Everything else is optional.
BUILD ?= build
JOBS  ?= 2

.PHONY: all deps build run test unit integration bench asan fuzz faults soak check format clean deploy-check image compose-test bench-scale

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

# the Kubernetes manifests against the schemas, the invariants and the real binaries (in make test)
deploy-check: build
	@SB_ONLY=it_deploy bash tools/test.sh $(BUILD)

# the container image (podman), checked: every service runs in it as non-root and answers
image:
	@bash tools/image.sh

# compose.yaml in real containers (podman-compose), driven with the SDKs; a forwarder stopped mid-load
compose-test: build
	@bash tools/compose-test.sh

# throughput with 1, 2 and 4 forwarders (and 2 edges, 2 keypools) against a 200 ms upstream
bench-scale: build
	@bash bench/scale.sh $(BUILD)

unit: build
	@ctest --test-dir $(BUILD) -L unit --output-on-failure

integration: build
	@ctest --test-dir $(BUILD) -L integration --output-on-failure

bench: build
	@bash bench/run.sh $(BUILD)

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DENABLE_ASAN=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@SB_BUILD_DIR=$$PWD/build-asan bash tools/test.sh build-asan

fuzz: deps
	@bash tools/fuzz.sh

# the multi-replica topology under load while each fault strikes in turn (tests/faults/faults.mjs)
faults: build
	@bash -c 'source tools/node-env.sh && node tests/faults/faults.mjs'

# 30 minutes of moderate load; every service's RSS and descriptors must stay flat
soak: build
	@bash -c 'source tools/node-env.sh && node tests/faults/soak.mjs'

check: build
	@bash tools/check-format.sh
	@bash tools/check-banned.sh
	@bash tools/check-cppcheck.sh $(BUILD)
	@node tools/check-cycles.mjs $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan
