# Fleetgate: each target does its own set-up (packages, local PostgreSQL under .data/).
.PHONY: run test lint bench demo stop clean

run:  ## build and run provisioning (8081) and ingest (8080) against a local PostgreSQL
	@scripts/run.sh

test: lint  ## lint, then the whole suite against a real local PostgreSQL
	@scripts/test.sh

lint:  ## swift format lint (config in .swift-format)
	@swift format lint --strict --recursive Sources Tests

bench:  ## benchmark suite (bench/run.sh): one table, appended to BENCHMARKS.md; BENCH_QUICK=1 for a short trial
	@bench/run.sh

.PHONY: fuzz
fuzz:  ## libFuzzer targets (Fuzz/run.sh, plain swiftc into .build-fuzz/): each runs FUZZ_SECONDS (default 60)
	@Fuzz/run.sh

stop:  ## stop the local PostgreSQL cluster
	@scripts/pg-stop.sh

clean:  ## remove builds and the local database
	@scripts/pg-stop.sh; rm -rf .build .data
