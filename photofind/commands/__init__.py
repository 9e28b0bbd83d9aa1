"""CLI subcommands, one module each. Modules import only argparse-level code at top."""
