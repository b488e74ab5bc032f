# The four entry points. Each installs what it needs first (scripts/setup.sh is idempotent).
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all setup build test demo bench bench-mtls format clean

all: build

setup:
	@./scripts/setup.sh

$(BUILD_DIR)/build.ninja: | setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: setup $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	./scripts/run-tests.sh $(BUILD_DIR)

demo:
	@./scripts/demo.sh --root-check
	@$(MAKE) --no-print-directory build
	./scripts/demo.sh $(BUILD_DIR)

bench: build
	./bench/run.sh $(BUILD_DIR)

bench-mtls: build
	./bench/mtls.sh $(BUILD_DIR)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
