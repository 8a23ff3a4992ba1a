# Eventception: the two commands of the Quick start, and the developer shortcuts.
#   make          build Release into build/ (binary: build/eventception)
#   make run      install missing packages, build, serve the shop example
#   make test     install missing packages, build, run every test (what .ci/run calls)
#   make check-long   the long runs: fuzzing, soaks, full-size crash tests
#   make bench    build and run the benchmarks against their peers
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
SPEC ?= examples/shop/openapi.yaml

.PHONY: all build deps configure run test check-long bench clean

all: build

deps:
	@bash scripts/install-deps.sh
	@bash scripts/install-peers.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: deps build
	$(BUILD_DIR)/eventception serve --spec $(SPEC)

test: deps build
	bash scripts/run-tests.sh $(BUILD_DIR)

check-long: deps build
	bash scripts/check-long.sh $(BUILD_DIR)

bench: deps build
	bash scripts/run-bench.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
