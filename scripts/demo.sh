#!/usr/bin/env bash
# Runs `millwright demo` on a fresh machine: installs system packages, builds, runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --product millwright
exec .build/debug/millwright demo "$@"
