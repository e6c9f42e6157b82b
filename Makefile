# The two commands of the quick start: `make serve` and `make test`. Both install first.
.PHONY: setup serve test test-all lint bench

setup:
	@bash scripts/setup.sh

serve: setup
	.venv/bin/facecast serve

test: setup
	bash scripts/test.sh

test-all: setup
	.venv/bin/python -m pytest -m "slow or not slow"

lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy

bench: setup
	.venv/bin/python bench/run.py
	.venv/bin/python bench/voices.py
	.venv/bin/python bench/video_avatar.py
	.venv/bin/python bench/video_avatar.py --full
