.PHONY: setup run test lint bench screenshots

setup:
	scripts/setup

run:
	scripts/run

test:
	scripts/test

lint:
	scripts/lint

bench:
	scripts/setup
	.venv/bin/python benchmarks/run_all.py

screenshots:
	scripts/screenshots
