"""`python -m photofind` runs the CLI."""

from photofind.cli import main

raise SystemExit(main())
