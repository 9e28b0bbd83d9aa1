"""`python -m photofind` runs the CLI."""

from photofind.cli import entry

entry()
