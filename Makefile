# ManimFarm. `make demo` and `make test` work on a fresh Debian 12 machine (as root) with Swift installed.
SWIFT ?= swift
BUILD_FLAGS ?=
# The end-to-end suites each run a farm of real processes; on two cores they run one at a time.
TEST_FLAGS ?= --no-parallel
BIN := $(shell $(SWIFT) build $(BUILD_FLAGS) --show-bin-path 2>/dev/null)

.PHONY: all deps test-deps build demo test lock bench-store bench-core bench-farm bench-accounting bench-quality bench-fleet bench-encode bench-sandbox bench-api bench-objects bench-assembly bench-restore clean

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

# Regenerates python/requirements.lock (every package of the render environment, with hashes) from
# python/requirements.in. Agents installed from another lock report another environment fingerprint.
lock:
	rm -rf .build/lock-venv && python3 -m venv .build/lock-venv
	.build/lock-venv/bin/pip install -q --disable-pip-version-check pip-tools
	.build/lock-venv/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-header \
		-o python/requirements.lock python/requirements.in

clean:
	rm -rf .build farm-data

# Task state changes per second, each store against its bare driver (starts a throwaway PostgreSQL).
bench-store: test-deps
	$(SWIFT) build $(BUILD_FLAGS) --product StoreBenchmark
	@url=$$(scripts/test-postgres.sh start) && \
	"$(BIN)/StoreBenchmark" "$$url" 3000; status=$$?; scripts/test-postgres.sh stop; exit $$status

# The coordinator's state machine alone (events/s against wire decoding) and the engine with SQLite and a
# throwaway PostgreSQL (assignments/s persisted and sent, against the store alone), 500 simulated agents.
bench-core: test-deps
	$(SWIFT) build -c release --product CoreBenchmark
	@url=$$(scripts/test-postgres.sh start) && \
	"$$($(SWIFT) build -c release --show-bin-path)/CoreBenchmark" "$$url" 500; status=$$?; scripts/test-postgres.sh stop; exit $$status

# The restore time of a farm with 1,000 finished videos: farm-coordinator backup + restore against pg_dump/pg_restore
# and cp -a of the same data (starts a throwaway PostgreSQL).
bench-restore: test-deps
	$(SWIFT) build -c release --product RestoreBenchmark
	@url=$$(scripts/test-postgres.sh start) && \
	"$$($(SWIFT) build -c release --show-bin-path)/RestoreBenchmark" "$$url" 1000; status=$$?; scripts/test-postgres.sh stop; exit $$status

# Benchmark 1: `farm submit --wait` (2 local agents) against manim + an ffmpeg ladder, 1080p60, on the bundled
# examples: one long scene (explainer.py), then eight short MathTex scenes (formulas.py); medians of 3 runs and ratios.
bench-farm: test-deps build
	FARM_BIN_DIR="$(BIN)" bench/farm-vs-manim.sh examples/explainer.py high 3 2
	FARM_BIN_DIR="$(BIN)" bench/farm-vs-manim.sh examples/formulas.py high 3 2

# Benchmark 1, accounted: where every second of the farm's render and of the baseline's goes, stage by stage
# (CPU by stage per frame, each agent slot's wall time busy by stage and idle by reason), on both examples.
bench-accounting: test-deps build
	FARM_BIN_DIR="$(BIN)" bench/accounting.py examples/explainer.py
	FARM_BIN_DIR="$(BIN)" bench/accounting.py examples/formulas.py

# Benchmark 1's quality: PSNR and bitrate of each rung of the farm's ladder and of the baseline's, against the
# frames Manim draws (kept losslessly), on both examples.
bench-quality: test-deps build
	FARM_BIN_DIR="$(BIN)" bench/quality.py examples/explainer.py
	FARM_BIN_DIR="$(BIN)" bench/quality.py examples/formulas.py

# Benchmark 2: 50 and 200 simulated agents (renderers that only sleep): makespan against the ideal bound,
# dispatch rate, submit-to-first-assignment latency. Release binaries: hundreds of processes share this machine.
bench-fleet: deps
	$(SWIFT) build -c release --product farm-coordinator
	$(SWIFT) build -c release --product farm-agent
	FARM_BIN_DIR="$$($(SWIFT) build -c release --show-bin-path)" bench/fleet.py 50 200 --runs 3

# Benchmark 3: CPU per frame of the agent's ladder encode against `ffmpeg -c:v libx264 -threads 1`.
bench-encode: test-deps
	$(SWIFT) build -c release --product EncodeBenchmark
	"$$($(SWIFT) build -c release --show-bin-path)/EncodeBenchmark" examples/explainer.py RiemannSums 2,6 3

# Object storage: time to the first playable segment of a five-scene 1080p60 script on two agents, and the media
# bytes through the coordinator, against the same video published to the data folder (moto plays S3).
bench-objects: test-deps build
	FARM_BIN_DIR="$(BIN)" FARM_PYTHON="$(CURDIR)/.venv/bin/python" bench/object-store.py 1

# Assembling an hour of video (60 tasks × 10 segments × 3 rungs) in the object store as tasks are accepted,
# against the data-folder packager joining the same segments at the end.
bench-assembly: test-deps
	$(SWIFT) build -c release --product AssemblyBenchmark
	@port=$$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'); \
	"$(CURDIR)/.venv/bin/moto_server" -H 127.0.0.1 -p $$port >/dev/null 2>&1 & moto=$$!; \
	until curl -fs http://127.0.0.1:$$port/moto-api/ >/dev/null; do sleep 0.2; done; \
	"$$($(SWIFT) build -c release --show-bin-path)/AssemblyBenchmark" http://127.0.0.1:$$port; status=$$?; kill -9 $$moto; exit $$status

# What authentication costs a request: req/s of key-checked routes against the public /healthz, same run.
bench-api: deps
	$(SWIFT) build -c release --product farm-coordinator
	FARM_BIN_DIR="$$($(SWIFT) build -c release --show-bin-path)" bench/api-auth.py 3 4

# What the sandbox adds to a task's warm start: isolation inside bubblewrap and per-task control groups.
bench-sandbox: deps
	FARM_PYTHON="$(CURDIR)/.venv/bin/python" bench/sandbox-cost.py 50
