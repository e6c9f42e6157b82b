#!/usr/bin/env bash
# Installs everything Facecast needs on a fresh Debian 12 machine: the system voices and tools
# (apt, when run as root or with sudo), then a Python 3.11 virtual environment in .venv with the
# project and its test tools. Idempotent: a second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

# Fonts for captions: DejaVu (Latin, Cyrillic, Greek), Noto (Arabic, Hebrew, more), Noto CJK.
APT_PACKAGES=(ffmpeg flite festival festvox-us-slt-hts festvox-kallpc16k espeak-ng sox
  fonts-dejavu-core fonts-noto-core fonts-noto-cjk)
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  if [ "$SUDO" = "none" ]; then
    echo "setup: cannot install ${missing[*]} (not root, no sudo); the voices they provide will be unavailable" >&2
  else
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

stamp=.venv/.facecast-installed
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv (first run takes a minute)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
