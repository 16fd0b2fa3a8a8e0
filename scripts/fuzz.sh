#!/usr/bin/env bash
# Runs the libFuzzer targets briefly: the MQTT packet decoder, the OPC UA decoder, UA-TCP
# chunk assembler and secured chunk layer, the OPC UA service layer and secure channel, the vision-format adapters, the whole in-process pipeline (adapter → validator
# → rules → severity → text → rendering), the JSON parser and the capture JPEG splitter.
# Usage: scripts/fuzz.sh [SECONDS per target, default 30]. A crash leaves crash-* files in
# .build/fuzz/ and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
export MILLWRIGHT_FUZZ=1
mkdir -p .build
for target in FuzzMQTTDecoder FuzzOPCUADecoder FuzzOPCUAServices FuzzAdapters FuzzPipeline FuzzJSONParser FuzzJPEGSplitter; do
  if ! swift build --product "$target" >".build/fuzz-build.log" 2>&1; then
    echo "fuzz: building $target failed:"
    grep -E "error:" .build/fuzz-build.log | head -20 || tail -30 .build/fuzz-build.log
    exit 1
  fi
done
mkdir -p .build/fuzz/corpus-mqtt .build/fuzz/corpus-opcua .build/fuzz/corpus-opcua-services .build/fuzz/corpus-adapters .build/fuzz/corpus-pipeline .build/fuzz/corpus-json .build/fuzz/corpus-jpeg
cp Tests/IngestTests/Fixtures/*.json .build/fuzz/corpus-adapters/ 2>/dev/null || true
# Two formats both have a classification.json; name the seeds by folder too.
for f in Tests/IngestTests/Fixtures/*/*.json; do cp "$f" ".build/fuzz/corpus-json/$(basename "$(dirname "$f")")-$(basename "$f")"; done
for target in FuzzMQTTDecoder FuzzOPCUADecoder FuzzOPCUAServices FuzzAdapters FuzzPipeline FuzzJSONParser FuzzJPEGSplitter; do
  corpus=".build/fuzz/corpus-mqtt"; [ "$target" = FuzzAdapters ] && corpus=".build/fuzz/corpus-adapters"
  [ "$target" = FuzzOPCUADecoder ] && corpus=".build/fuzz/corpus-opcua"
  [ "$target" = FuzzOPCUAServices ] && corpus=".build/fuzz/corpus-opcua-services"
  [ "$target" = FuzzPipeline ] && corpus=".build/fuzz/corpus-pipeline"
  [ "$target" = FuzzJSONParser ] && corpus=".build/fuzz/corpus-json"
  [ "$target" = FuzzJPEGSplitter ] && corpus=".build/fuzz/corpus-jpeg"
  log=".build/fuzz/$target.log"
  if ! (cd .build/fuzz && "../debug/$target" -max_total_time="$seconds" -max_len=4096 "../../$corpus" >"../../$log" 2>&1); then
    echo "fuzz: $target found a crash; see $log and .build/fuzz/crash-*"
    tail -20 "$log"
    exit 1
  fi
  echo "fuzz: $target $(grep -Eo 'Done [0-9]+ runs' "$log" | tail -1) in ${seconds}s, no crash"
done
