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

.PHONY: reliability
reliability:  ## fault and overload tests (reliability/run.sh, own PostgreSQL on 54339, ports 28080/28081; ~6 min; not in `make test`), then `make fuzz`
	@rc=0; reliability/run.sh || rc=$$?; \
	if grep -q '^fuzz:' Makefile; then $(MAKE) --no-print-directory fuzz || rc=1; fi; \
	exit $$rc

demo:  ## start the stack, run the simulator's smoke then steady (30 s) scenarios with live progress, verify, stop
	@scripts/demo.sh

stop:  ## stop the local PostgreSQL cluster
	@scripts/pg-stop.sh

clean:  ## remove builds and the local database
	@scripts/pg-stop.sh; rm -rf .build .data
