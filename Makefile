# The two entry points of the README: `make cluster` and `make test`. Each one
# installs what is missing (tools/install-deps.sh), builds, and runs.
BUILD ?= build
PORT ?= 6379
PYTEST ?= /usr/bin/python3 -m pytest
JOBS ?= $(shell nproc)

.PHONY: all deps build run cluster cluster-stop cluster-clean test unit integration faults fuzz sanitize clean format bench

all: build

deps:
	@tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory -s

run: build
	$(BUILD)/keyraft-server --port $(PORT)

# A local 9-node cluster (3 shards x 3 members) on ports 7000-7008, data in
# ./cluster-data: created the first time, restarted with its data after.
# tools/cluster.sh status|kill N|restart N|logs N for the rest.
cluster: build
	KEYRAFT_SERVER=$(abspath $(BUILD))/keyraft-server tools/cluster.sh start

cluster-stop:
	tools/cluster.sh stop

cluster-clean:
	tools/cluster.sh clean

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

integration: build
	KEYRAFT_SERVER=$(abspath $(BUILD))/keyraft-server $(PYTEST) -q tests/integration

# kill -9, SIGSTOP/SIGCONT of Raft group members under concurrent writers.
faults: build
	KEYRAFT_SERVER=$(abspath $(BUILD))/keyraft-server $(PYTEST) -q tests/faults

test: unit integration faults fuzz

# libFuzzer targets, briefly (KR_FUZZ_SECONDS each), in their own clang build.
FUZZ_SECONDS ?= 20
fuzz: deps
	@cmake -S . -B build-fuzz -DKR_FUZZ=ON -DCMAKE_C_COMPILER=clang \
		-DKR_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_resp fuzz_snapshot fuzz_entry fuzz_busmsg fuzz_logfile -- \
		--no-print-directory -s
	cd build-fuzz && ctest --output-on-failure -R '^fuzz_'

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize:
	@tools/install-deps.sh
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKR_SANITIZE=address,undefined >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	KEYRAFT_SERVER=$(abspath build-asan)/keyraft-server $(PYTEST) -q tests/integration
	KEYRAFT_SERVER=$(abspath build-asan)/keyraft-server $(PYTEST) -q tests/faults

# `make bench BENCH_ARGS="--quick strings"`; tools/bench.sh --help lists the sections.
bench: build
	KEYRAFT_SERVER=$(abspath $(BUILD))/keyraft-server tools/bench.sh $(BENCH_ARGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz
