"""Engine test fixtures shared by every module under tests/core."""

from __future__ import annotations

import pytest

from photofind.core.match import verify


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test decodes its own files: verify's per-process detail and digest caches must
    not carry a photo (keyed by path) from one test's tmp_path into another's."""
    verify.clear_caches()
    yield
    verify.clear_caches()
