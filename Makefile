# packbench: the common commands. `make test` and `make reproduce TABLE=N` are all a fresh machine needs.
BUILD  ?= build
BUILD_CUDA ?= build-cuda
JOBS   ?= $(shell nproc)
TABLE  ?= 3
CONFIG ?=
OUT    ?=
PB      = $(BUILD)/bin/packbench
CTEST_ARGS ?=
# With ccache installed, builds use it; paths relative to the checkout let clones share the cache.
export CCACHE_BASEDIR ?= $(CURDIR)

.PHONY: all setup configure build test test-slow test-real test-all test-gpu build-cuda env bench reproduce cell tables clean

all: build

setup:
	@bash scripts/setup.sh

$(BUILD)/build.ninja: CMakeLists.txt
	@bash scripts/setup.sh
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache,)

configure: $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Default tests: the fast label plus real-data (which skips when ../shared/benchmarks is absent).
test: build
	cd $(BUILD) && ctest -LE slow -j $(JOBS) --output-on-failure $(CTEST_ARGS)

test-slow: build
	cd $(BUILD) && ctest -L slow --output-on-failure $(CTEST_ARGS)

test-real: build
	cd $(BUILD) && ctest -L real-data --output-on-failure $(CTEST_ARGS)

test-all: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure $(CTEST_ARGS)

# The CUDA + NCCL build: PyPI's CUDA LibTorch from the pinned Python environment and the CUDA
# toolkit's nvcc (compiles and links on machines without a GPU; CI builds it on every run).
$(BUILD_CUDA)/build.ninja: CMakeLists.txt
	@bash scripts/setup.sh --cuda
	bash scripts/configure_cuda.sh $(BUILD_CUDA)

build-cuda: $(BUILD_CUDA)/build.ninja
	cmake --build $(BUILD_CUDA) -j $(JOBS)

# Tests that need a CUDA device (label gpu), from the CUDA build; they skip without one.
test-gpu: build-cuda
	cd $(BUILD_CUDA) && ctest -L gpu --output-on-failure $(CTEST_ARGS)

env: build
	$(PB) env

bench: build
	bash scripts/bench.sh

# Runs the study (the embedded mini study unless CONFIG names another) and writes table TABLE.
reproduce: build
	$(PB) matrix run $(if $(CONFIG),--config $(CONFIG),) $(if $(OUT),--out $(OUT),) --table $(TABLE)

cell: build
	$(PB) cell $(ARGS)

tables: build
	$(PB) tables $(ARGS)

clean:
	rm -rf $(BUILD) $(BUILD_CUDA)
