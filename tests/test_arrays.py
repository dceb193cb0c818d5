"""The array helpers (dedup/arrays.py) equal the numpy functions they stand in for."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dedup.arrays import unique_ints

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
              np.bool_]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(INT_DTYPES).flatmap(
    lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0,
                                               max_side=40))))
def test_unique_ints_equals_numpy_unique(values: np.ndarray) -> None:
    got, want = unique_ints(values), np.unique(values)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)


def test_unique_ints_of_packed_pairs_and_extremes() -> None:
    info = np.iinfo(np.uint64)
    values = np.array([info.max, 0, info.max, 1 << 63, (1 << 63) - 1, 0], dtype=np.uint64)
    assert unique_ints(values).tolist() == [0, (1 << 63) - 1, 1 << 63, info.max]
    assert unique_ints(np.array([-5, 3, -5], dtype=np.int64)).tolist() == [-5, 3]
    assert unique_ints(np.empty(0, dtype=np.int64)).dtype == np.int64


def test_unique_ints_refuses_floats() -> None:
    with pytest.raises(TypeError, match="integers"):
        unique_ints(np.array([1.0, np.nan]))
