#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs system packages, builds, tests,
# holds the running API to its OpenAPI document (schemathesis), then runs the fuzzers of
# scripts/fuzz.sh briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
mkdir -p .build
# swift-testing starts every test case at once unless told otherwise; on a 2-core machine
# the servers, brokers, databases and browsers of ~900 cases then starve each other into
# timeouts. Six at a time keeps the run about as fast and the timings honest.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-6}"
set +e
swift test --skip-build "$@" 2>&1 | tee .build/test-output.log
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || exit "$status"
scripts/api-contract.sh
scripts/fuzz.sh "${MILLWRIGHT_FUZZ_SECONDS:-20}"
# The test runner's summary again, as the last word.
grep -E "Test run with|Executed [0-9]+ tests" .build/test-output.log | tail -2
