#!/usr/bin/env bash
# The project's checks, as CI runs them: lint, type check, then the test suite (slow tests excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
