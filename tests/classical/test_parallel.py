"""The chunked-parallel runner: chunks in order, serial equals parallel, consume, bad chunk sizes."""

from functools import partial

import numpy as np
import pytest

from visionkit import VisionkitError
from visionkit.classical import dense_sift
from visionkit.classical._parallel import map_chunks


def _describe(chunk, index, **params):
    return index, [dense_sift(im, **params).descriptors for im in chunk]


def test_serial_equals_parallel_in_order():
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (40 + 4 * i, 36, 3), dtype=np.uint8) for i in range(5)]  # mixed sizes
    fn = partial(_describe, step=8, patch_sizes=(16,))
    ser = map_chunks(fn, imgs, chunk_size=2)
    par = map_chunks(fn, imgs, chunk_size=2, n_jobs=2)
    assert [i for i, _ in ser] == [i for i, _ in par] == [0, 1, 2]
    for (_, a), (_, b) in zip(ser, par):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_consume_receives_each_chunk_and_nothing_is_kept():
    seen = {}
    out = map_chunks(lambda chunk, i: sum(chunk), list(range(7)), chunk_size=3, consume=seen.__setitem__)
    assert out == [] and seen == {0: 3, 1: 12, 2: 6}


def test_bad_chunk_size():
    with pytest.raises(VisionkitError, match="chunk_size"):
        map_chunks(lambda c, i: c, [1, 2], chunk_size=0)
