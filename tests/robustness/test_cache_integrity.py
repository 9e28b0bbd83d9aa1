"""W5: an embedding whose bytes were damaged is never used: it is computed again, with a warning."""

import sqlite3

import numpy as np

from photofind.core.scan.cache import Cache, FileEntry
from photofind.core.types import FileRef, ImageFacts


def test_a_flipped_byte_in_an_embedding_is_caught_on_read(tmp_path):
    path = tmp_path / "c.sqlite3"
    vec = np.linspace(-1, 1, 512, dtype=np.float32)
    vec /= np.linalg.norm(vec)
    entry = FileEntry(FileRef("/p/a.jpg", 10, 5), "h1", ImageFacts(40, 30, "JPEG"), embedding=vec)
    with Cache(path) as cache:
        cache.store([entry], "m")
        assert np.array_equal(cache.lookup([entry.file], "m")["/p/a.jpg"].embedding, vec)
    db = sqlite3.connect(path)
    (blob,) = db.execute("SELECT vector FROM embeddings").fetchone()
    damaged = bytearray(blob)
    damaged[403] ^= 0x80  # one sign bit: the vector's norm, and SQLite's checks, do not notice
    db.execute("UPDATE embeddings SET vector = ?", (bytes(damaged),))
    db.commit()
    db.close()
    with Cache(path) as cache:
        assert not cache.warnings
        hit = cache.lookup([entry.file], "m")["/p/a.jpg"]
        assert hit.embedding is None and hit.facts == ImageFacts(40, 30, "JPEG")
        assert cache.images_for_hashes(["h1"], "m") == {}
        assert "checksum" in cache.warnings[0]
        cache.store([entry], "m")  # computed again: stored whole
        assert np.array_equal(cache.lookup([entry.file], "m")["/p/a.jpg"].embedding, vec)
