"""One scan's embeddings in one float32 block, one row per discovered file.

100k photos as 100k small arrays cost about twice the memory of the numbers in them, and
assembling the result matrix from them needs a second full copy. Here rows are written
once, where the result will read them, and looked up by path or by content hash.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class VectorTable:
    def __init__(self, paths: Sequence[str], dim: int) -> None:
        self._row_of_path = {p: i for i, p in enumerate(paths)}
        self._row_of_hash: dict[str, int] = {}
        self.matrix = np.zeros((len(self._row_of_path), dim), dtype=np.float32)

    def put(self, path: str, content_hash: str, vector: np.ndarray) -> None:
        row = self._row_of_path[path]
        self.matrix[row] = vector
        self._row_of_hash.setdefault(content_hash, row)

    def put_many(self, paths: Sequence[str], hashes: Sequence[str], vectors: Sequence[np.ndarray]) -> None:
        """put() for many rows in one numpy assignment (the warm path does 100k of them)."""
        if not paths:
            return
        rows = [self._row_of_path[p] for p in paths]
        self.matrix[rows] = np.stack(vectors)
        for h, row in zip(hashes, rows):
            self._row_of_hash.setdefault(h, row)

    def __contains__(self, content_hash: object) -> bool:
        return content_hash in self._row_of_hash

    def get(self, content_hash: str) -> np.ndarray | None:
        """The embedding of these bytes (a read-only view), if any file with them has one."""
        row = self._row_of_hash.get(content_hash)
        if row is None:
            return None
        view = self.matrix[row]
        view.flags.writeable = False
        return view

    def take(self, paths: Sequence[str]) -> np.ndarray:
        """The rows of `paths`, as one matrix; the table is unusable afterwards. When the
        paths keep the order the table was built with (the scan's case), the rows are
        compacted in place and no second matrix is allocated."""
        rows = np.fromiter((self._row_of_path[p] for p in paths), dtype=np.int64, count=len(paths))
        self._row_of_path.clear()
        self._row_of_hash.clear()
        if len(rows) and np.any(rows[1:] <= rows[:-1]):
            return self.matrix[rows]  # another order: a copy
        chunk = 4096
        # rows[i] >= i, so copying forward in chunks never overwrites a row still to be read.
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            if part[0] != start or part[-1] != start + len(part) - 1:
                self.matrix[start : start + len(part)] = self.matrix[part]
        return self.matrix[: len(rows)]
