#!/usr/bin/env bash
# Holds the running API to its OpenAPI document: starts `millwright demo --keep-running` on a
# loopback port, runs schemathesis (PyPI) with every check against /openapi.yaml, stops the
# demo. Exceptions the schema cannot express are in scripts/schemathesis.toml, each with why.
# MILLWRIGHT_API_SEED picks the generator's seed (default fixed, so CI is repeatable).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug/millwright
[ -x "$bin" ] || swift build --product millwright
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" demo --keep-running --port "$port" --data-dir "$work/data" >"$work/demo.log" 2>&1 &
demo=$!
trap 'kill "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 240); do
  grep -q "Ctrl-C to stop" "$work/demo.log" && break
  kill -0 "$demo" 2>/dev/null || { cat "$work/demo.log"; echo "the demo stopped before serving" >&2; exit 1; }
  sleep 0.5
done
grep -q "Ctrl-C to stop" "$work/demo.log" || { tail -20 "$work/demo.log"; echo "the demo did not start serving in 120 s" >&2; exit 1; }
python3 -m schemathesis.cli --config-file scripts/schemathesis.toml run "http://127.0.0.1:$port/openapi.yaml" \
  -H "Authorization: Bearer demo-admin-key" --checks all --max-examples "${MILLWRIGHT_API_EXAMPLES:-50}" \
  --seed "${MILLWRIGHT_API_SEED:-20261129}" --no-color
