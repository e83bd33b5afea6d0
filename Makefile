# ManimFarm. `make demo` and `make test` work on a fresh Debian 12 machine (as root) with Swift installed.
SWIFT ?= swift
BUILD_FLAGS ?=
# The end-to-end suites each run a farm of real processes; on two cores they run one at a time.
TEST_FLAGS ?= --no-parallel
BIN := $(shell $(SWIFT) build $(BUILD_FLAGS) --show-bin-path 2>/dev/null)

.PHONY: all deps test-deps build demo test bench-store clean

all: build

deps:
	scripts/install-deps.sh

test-deps:
	scripts/install-deps.sh --test-tools

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

demo: build
	scripts/demo.sh "$(BIN)"

# The PostgreSQL tests run against a throwaway server on 127.0.0.1:55432, started here and removed afterwards.
test: test-deps build
	@url=$$(scripts/test-postgres.sh start) && \
	FARM_BIN_DIR="$(BIN)" FARM_PYTHON="$(CURDIR)/.venv/bin/python" FARM_TEST_POSTGRES_URL="$$url" \
		$(SWIFT) test $(BUILD_FLAGS) $(TEST_FLAGS); status=$$?; scripts/test-postgres.sh stop; exit $$status

clean:
	rm -rf .build farm-data

# Task state changes per second, each store against its bare driver (starts a throwaway PostgreSQL).
bench-store: test-deps
	$(SWIFT) build $(BUILD_FLAGS) --product StoreBenchmark
	@url=$$(scripts/test-postgres.sh start) && \
	"$(BIN)/StoreBenchmark" "$$url" 3000; status=$$?; scripts/test-postgres.sh stop; exit $$status
