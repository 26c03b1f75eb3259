#!/usr/bin/env bash
# Installs what Tessera's tests and benchmarks use beyond the Rust toolchain: the reference
# codecs from Debian's packages (the lab skips any that are missing) and Chromium for the
# report's browser test. Safe to run again.
set -euo pipefail
# python3-numpy and python3-pil: the numpy PSNR cross-check of the lab (scripts/check_psnr.py).
pkgs=(libjpeg-turbo-progs webp libjxl-tools libopenjp2-tools libavif-bin libheif-examples ffmpeg optipng chromium python3-numpy python3-pil)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
