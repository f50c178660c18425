# s3turbo developer entry points. Everything installs itself on first use:
# Python packages into .venv, Go tools (versitygw, gofakes3) into .tools/bin.
#
#   make demo    build, start a local S3 server, run the demo against boto3
#   make test    go vet + go test -race + pytest, all against a real local server
#   make bench   the benchmark suite vs every peer and the oracle, at 0 ms and 30 ms: report + charts in
#                benchmarks/results/suite.md (details below, at bench-suite)
#   make server  start a local S3 server in the foreground and print its credentials

SHELL := /bin/bash
PYTHON ?= python3
GO ?= go
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
TOOLS := $(CURDIR)/.tools
VERSITYGW_VERSION := v1.8.0
VERSITYGW := $(TOOLS)/bin/versitygw
export S3TURBO_VERSITYGW ?= $(VERSITYGW)
GOFAKES3_VERSION := v1.2.0
GOFAKES3 := $(TOOLS)/bin/gofakes3
export S3TURBO_GOFAKES3 ?= $(GOFAKES3)
export GOFLAGS ?= -buildvcs=false

.PHONY: all venv build tools demo test test-go test-py bench bench-foundation bench-fsspec server vet clean

all: build

venv: $(VENV)/.stamp
$(VENV)/.stamp: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Rebuilds the engine every time: go's build cache makes an unchanged tree cheap.
build: venv
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .

tools: $(VERSITYGW) $(GOFAKES3)
$(VERSITYGW):
	mkdir -p $(TOOLS)/bin
	GOBIN=$(TOOLS)/bin $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

# A second, in-memory S3 server for the few tests versitygw's posix backend cannot serve: an object "a"
# beside keys under "a/" (a file and a directory of one name).
$(GOFAKES3):
	mkdir -p $(TOOLS)/bin
	GOBIN=$(TOOLS)/bin $(GO) install github.com/johannesboyne/gofakes3/cmd/gofakes3@$(GOFAKES3_VERSION)

vet:
	$(GO) vet ./go/... ./benchmarks/...
	@test -z "$$(gofmt -l go benchmarks)" || { echo "gofmt needed:"; gofmt -l go benchmarks; exit 1; }

test-go: tools vet
	S3TURBO_REQUIRE_SERVER=1 $(GO) test -race -count=1 ./go/... ./benchmarks/...
	LISTSIM_10M=1 $(GO) test -count=1 -run 'TestVirtualRounds10M' ./benchmarks/listsim

test-py: build tools
	$(PY) -m mypy
	$(PY) -m pytest -q tests

test: test-go test-py

demo: build tools
	$(PY) benchmarks/demo.py

bench: bench-suite

# The first benchmarks (issue #2): 64 KiB objects, 512 MiB, local tar, ls. Superseded by the suite.
bench-foundation: build tools
	$(PY) -m pytest benchmarks/test_foundation.py -q --benchmark-json=benchmarks/results/latest.json
	$(PY) benchmarks/report.py benchmarks/results/latest.json benchmarks/results/README.md

# S3FileSystem vs s3fs (issue #3).
bench-fsspec: build tools
	$(PY) -m pytest benchmarks/test_fsspec.py -q --benchmark-json=benchmarks/results/fsspec.json
	$(PY) benchmarks/report.py benchmarks/results/fsspec.json benchmarks/results/fsspec.md

server: build tools
	$(PY) -m s3turbo.testing

clean:
	rm -rf build dist python/*.egg-info python/s3turbo/libs3turbo.so python/s3turbo/libs3turbo.h .pytest_cache

# ---------------------------------------------------------------- listing at scale
#
#   make bench-listing   N keys x {hex,date,deep,skewed} x {0,30 ms}: boto3, s5cmd, obstore,
#                        s3turbo serial/parallel and the oracle side by side; then du of 10 M keys.
#                        Results: benchmarks/results/listing.{json,md}. Knobs (env):
#                        S3TURBO_BENCH_LIST_N (default 1000000), S3TURBO_BENCH_DU_N (10000000),
#                        S3TURBO_BENCH_SLOW_PEERS=0 (skip boto3/s5cmd at 30 ms), S3TURBO_BENCH_LAYOUTS,
#                        S3TURBO_BENCH_DU_LAYOUTS, S3TURBO_BENCH_LATENCIES, S3TURBO_BENCH_LIST_ROUNDS.
#   make test-bench-go   go vet + go test of the benchmark servers (synthlist, oracle, layouts)

TOXIPROXY_VERSION := v2.5.0
TOXIPROXY := $(TOOLS)/bin/toxiproxy-server
export S3TURBO_TOXIPROXY ?= $(TOXIPROXY)

.PHONY: bench-tools bench-listing test-bench-go

tools: $(TOXIPROXY)
# The module's server command is cmd/server; install it under its release name.
$(TOXIPROXY):
	mkdir -p $(TOOLS)/bin $(TOOLS)/gobin-toxiproxy
	GOBIN=$(TOOLS)/gobin-toxiproxy $(GO) install github.com/Shopify/toxiproxy/v2/cmd/server@$(TOXIPROXY_VERSION)
	mv $(TOOLS)/gobin-toxiproxy/server $@
	rmdir $(TOOLS)/gobin-toxiproxy

# Rebuilt every time: go's build cache makes an unchanged tree cheap.
bench-tools:
	mkdir -p $(TOOLS)/bin
	$(GO) build -o $(TOOLS)/bin/synthlist ./benchmarks/synthlist
	$(GO) build -o $(TOOLS)/bin/oracle ./benchmarks/oracle

test-bench-go:
	$(GO) vet ./benchmarks/...
	@test -z "$$(gofmt -l benchmarks)" || { echo "gofmt needed:"; gofmt -l benchmarks; exit 1; }
	$(GO) test -count=1 ./benchmarks/...

bench-listing: build tools bench-tools
	mkdir -p benchmarks/results
	S3TURBO_BENCH_LISTING=1 $(PY) -m pytest benchmarks/test_listing.py -q -rs --benchmark-json=benchmarks/results/listing.json
	$(PY) benchmarks/report_listing.py benchmarks/results/listing.json benchmarks/results/listing.md

# ---------------------------------------------------------------- the suite (issue #5)
#
#   make bench-suite   (= make bench) the suite twice, at 0 ms and with 30 ms added per response by toxiproxy:
#                      GETs (2000 x 16 KiB, 2000 x 256 KiB, 100 x 8 MiB, 1 x 1 GiB), 1000 x 64 KiB ranges,
#                      PUTs (2000 x 64 KiB, 1 x 1 GiB), serial listing and du of 100 k keys, tar indexing
#                      (local and from S3): s3turbo vs boto3, s3fs, obstore, s5cmd, s3torchconnector and the
#                      GET oracle (benchmarks/getoracle). Results: benchmarks/results/suite-{0,30}ms.json,
#                      one report benchmarks/results/suite.md and PNG charts beside it.
#                      bench-deps installs torch + s3torchconnector (requirements-bench.txt, ~2.7 GB of CUDA
#                      wheels from PyPI); without them those two peers skip with the reason.
#                      Knobs (env): S3TURBO_BENCH_SUITE_QUICK=1 (validation sizes),
#                      S3TURBO_BENCH_SUITE_{SMALL_N,MEDIUM_N,MEDIUM_MIB,LARGE_MIB,RANGES_N,PUT_N,LIST_N,LIST_DIRS,
#                      TAR_N,ROUNDS,PEERS,GROUPS}, S3TURBO_BENCH_SUITE_SLOW_ROUNDS (rounds of the serial peers
#                      under a latency, default 1), S3TURBO_BENCH_SUITE_SLOW_PEERS=0 (skip them there),
#                      S3TURBO_BENCH_ORACLE_CONCURRENCY, SUITE_LATENCIES (default "0 30").

.PHONY: bench-suite bench-deps

SUITE_LATENCIES ?= 0 30

bench-deps: venv
	$(PY) -m pip install -q -r requirements-bench.txt

bench-suite: build tools bench-deps
	mkdir -p benchmarks/results $(TOOLS)/bin
	$(GO) build -o $(TOOLS)/bin/getoracle ./benchmarks/getoracle
	for ms in $(SUITE_LATENCIES); do \
	  S3TURBO_BENCH_LATENCY_MS=$$ms $(PY) -m pytest benchmarks/test_suite.py -q -rs \
	    --benchmark-json=benchmarks/results/suite-$${ms}ms.json || exit 1; \
	done
	$(PY) benchmarks/report.py $(foreach ms,$(SUITE_LATENCIES),benchmarks/results/suite-$(ms)ms.json) \
	  benchmarks/results/suite.md
