"""Helpers for the store tests."""

from pathlib import Path


def damage_schema_page(path: Path) -> None:
    """Overwrite page 1's b-tree (the schema) of an SQLite file, keeping its 100-byte header:
    still recognisably an SQLite database, but a damaged one."""
    raw = bytearray(path.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)
    path.write_bytes(bytes(raw))


def damage_all_but_meta(path: Path) -> None:
    """Garbage in every page but the first (header and schema) and the `meta` table's: the
    damage that opening the scan cache no longer looks for (it would read every page) and
    that its first read of the files meets."""
    import sqlite3

    db = sqlite3.connect(path)
    try:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        keep = {1, db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'meta'").fetchone()[0]}
    finally:
        db.close()
    raw = bytearray(path.read_bytes())
    for page in range(2, len(raw) // page_size + 1):
        if page not in keep:
            start = (page - 1) * page_size
            raw[start : start + page_size] = b"\xff" * page_size
    path.write_bytes(bytes(raw))
