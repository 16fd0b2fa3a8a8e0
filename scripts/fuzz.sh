#!/usr/bin/env bash
# Runs the libFuzzer targets briefly: the MQTT packet decoder, the OPC UA decoder, UA-TCP
# chunk assembler and secured chunk layer, the OPC UA service layer and secure channel, the vision-format adapters, the whole in-process pipeline (adapter → validator
# → rules → severity → text → rendering), the JSON parser, the capture JPEG splitter and what a
# detector worker writes (its lines and answers).
# Usage: scripts/fuzz.sh [SECONDS per target, default 30]. A crash leaves crash-* files in
# .build/fuzz/ and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
export MILLWRIGHT_FUZZ=1
mkdir -p .build
for target in FuzzMQTTDecoder FuzzOPCUADecoder FuzzOPCUAServices FuzzAdapters FuzzPipeline FuzzJSONParser FuzzJPEGSplitter FuzzWorkerProtocol; do
  if ! swift build --product "$target" >".build/fuzz-build.log" 2>&1; then
    echo "fuzz: building $target failed:"
    grep -E "error:" .build/fuzz-build.log | head -20 || tail -30 .build/fuzz-build.log
    exit 1
  fi
done
mkdir -p .build/fuzz/corpus-mqtt .build/fuzz/corpus-opcua .build/fuzz/corpus-opcua-services .build/fuzz/corpus-adapters .build/fuzz/corpus-pipeline .build/fuzz/corpus-json .build/fuzz/corpus-jpeg .build/fuzz/corpus-worker
# A worker's three messages, as docs/capture.md gives them (the first byte picks the fuzzer's piece size).
printf '\007{"ready": true, "model": {"name": "yolo", "version": "8"}}\n' > .build/fuzz/corpus-worker/ready
printf '\003{"id": 7, "detections": [{"class": "crack", "confidence": 0.93, "box": [10, 20, 30, 40]}, {"class": 1, "confidence": 0.6, "box": [1900, 1000, 50, 90]}]}\r\n' > .build/fuzz/corpus-worker/answer
printf '\001{"id": 8, "error": "CUDA out of memory"}\n{"id": 9, "detections": []}\n' > .build/fuzz/corpus-worker/error
cp Tests/IngestTests/Fixtures/*.json .build/fuzz/corpus-adapters/ 2>/dev/null || true
# Two formats both have a classification.json; name the seeds by folder too.
for f in Tests/IngestTests/Fixtures/*/*.json; do cp "$f" ".build/fuzz/corpus-json/$(basename "$(dirname "$f")")-$(basename "$f")"; done
for target in FuzzMQTTDecoder FuzzOPCUADecoder FuzzOPCUAServices FuzzAdapters FuzzPipeline FuzzJSONParser FuzzJPEGSplitter FuzzWorkerProtocol; do
  corpus=".build/fuzz/corpus-mqtt"; [ "$target" = FuzzAdapters ] && corpus=".build/fuzz/corpus-adapters"
  [ "$target" = FuzzOPCUADecoder ] && corpus=".build/fuzz/corpus-opcua"
  [ "$target" = FuzzOPCUAServices ] && corpus=".build/fuzz/corpus-opcua-services"
  [ "$target" = FuzzPipeline ] && corpus=".build/fuzz/corpus-pipeline"
  [ "$target" = FuzzJSONParser ] && corpus=".build/fuzz/corpus-json"
  [ "$target" = FuzzJPEGSplitter ] && corpus=".build/fuzz/corpus-jpeg"
  [ "$target" = FuzzWorkerProtocol ] && corpus=".build/fuzz/corpus-worker"
  log=".build/fuzz/$target.log"
  if ! (cd .build/fuzz && "../debug/$target" -max_total_time="$seconds" -max_len=4096 "../../$corpus" >"../../$log" 2>&1); then
    echo "fuzz: $target found a crash; see $log and .build/fuzz/crash-*"
    tail -20 "$log"
    exit 1
  fi
  echo "fuzz: $target $(grep -Eo 'Done [0-9]+ runs' "$log" | tail -1) in ${seconds}s, no crash"
done
