#!/usr/bin/env bash
# Installs what Millwright needs beyond the Swift toolchain, on Debian/Ubuntu:
# libjpeg-turbo and libpng (evidence images), SQLite, mosquitto (MQTT tests), PostgreSQL
# (the StorePostgres tests start their own throw-away servers with its initdb/pg_ctl),
# python3 with Pillow, aiosmtpd and schemathesis (test peers), onnxruntime and onnx (the
# reference detector worker and its tests), openssl (test certificates),
# chromium with its chromedriver and selenium (the board's browser tests), ffmpeg (decodes the
# capture cameras' RTSP streams) and GStreamer's RTSP server with python3-gi (the capture tests'
# camera, run with Debian's /usr/bin/python3).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
for p in libturbojpeg0-dev libpng-dev libsqlite3-dev sqlite3 mosquitto mosquitto-clients postgresql openssl python3 python3-pip chromium chromium-driver \
         ffmpeg gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The broker and PostgreSQL are started by the tests on their own ports; the packaged services
# (and the cluster Debian creates on port 5432) are not needed.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
  $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
fi
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters --no-header 2>/dev/null | while read -r version cluster _; do
    $SUDO pg_ctlcluster "$version" "$cluster" stop >/dev/null 2>&1 || true
  done
fi
# Test peers from PyPI: Pillow (an independent JPEG decoder), aiosmtpd (a real SMTP server),
# schemathesis (holds the API to its OpenAPI document), selenium (drives Debian's chromium
# through its /usr/bin/chromedriver; it downloads no driver), pysparkplug (a Sparkplug B host
# application), asyncua (an independent OPC UA client), onnxruntime and onnx (the reference
# detector worker, workers/onnx_detect.py, and the tiny model its tests build).
for mod in PIL:pillow aiosmtpd:aiosmtpd schemathesis:schemathesis selenium:selenium pysparkplug:pysparkplug asyncua:asyncua \
           onnxruntime:onnxruntime onnx:onnx; do
  if ! python3 -c "import ${mod%%:*}" >/dev/null 2>&1; then
    python3 -m pip install --quiet "${mod##*:}" || python3 -m pip install --quiet --break-system-packages "${mod##*:}"
  fi
done
