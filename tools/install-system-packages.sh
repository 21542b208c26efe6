#!/usr/bin/env bash
# System packages used by the test suite (Debian): headless Chromium for the
# report's browser test, and Fashion-MNIST IDX files for the loader tests.
# Idempotent; needs root (or sudo) and Debian's package registry.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "system packages ready: chromium=$(command -v chromium || echo missing)"
