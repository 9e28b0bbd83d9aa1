.PHONY: setup run test bench screenshots

setup:
	scripts/setup

run:
	scripts/run

test:
	scripts/test

bench:
	scripts/setup
	.venv/bin/python benchmarks/run_all.py

screenshots:
	scripts/screenshots
