"""Every RON file of plugins/ loads; those naming the example plugin's types fail with the loader's
unknown-name message, since the package links the built-ins only."""

from __future__ import annotations

import numpy as np
import pytest

import drift
from conftest import ROOT, blobs

FILES = sorted((ROOT / "plugins").rglob("*.ron"))


def names_plugin_types(text):
    return '"example.' in text


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_every_plugin_file_loads(path):
    text = path.read_text()
    if names_plugin_types(text):
        # The example plugin's kernels and operators are registered by its own crate, which a
        # binary (or this package) knows only when it links it.
        with pytest.raises(drift.SpecError) as e:
            drift.load(path)
        assert e.value.file == str(path) and e.value.line >= 1
        assert "unknown" in e.value.message and "example." in e.value.message
        return
    op = drift.load(path)
    assert op.origin == str(path) and op.ron == text
    # The same operator from the text as from the file; and it runs.
    x, y = blobs(20, 24, 2, seed=7)
    negatives = blobs(8, 1, 2, seed=8)[0] if '"guidance"' in text else None
    v = op(x, y, negatives=negatives)
    assert v.shape == x.shape and np.isfinite(v).all()
    assert np.array_equal(v, drift.load(text)(x, y, negatives=negatives))


def test_there_are_files():
    assert len(FILES) >= 10
