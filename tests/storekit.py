"""Helpers for the store tests."""

from pathlib import Path


def damage_schema_page(path: Path) -> None:
    """Overwrite page 1's b-tree (the schema) of an SQLite file, keeping its 100-byte header:
    still recognisably an SQLite database, but a damaged one."""
    raw = bytearray(path.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)
    path.write_bytes(bytes(raw))
