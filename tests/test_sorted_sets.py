"""The sort-based set operations give numpy's results, empty arrays included."""

from __future__ import annotations

import numpy as np
import pytest

from bansos_merge.sorted_sets import isin, unique


@pytest.mark.parametrize("size", [0, 1, 7, 5000])
def test_unique_and_isin_agree_with_numpy(size: int) -> None:
    rng = np.random.default_rng(size)
    values = rng.integers(-50, 50, size)
    pool = rng.integers(-60, 60, size // 2)
    assert np.array_equal(unique(values), np.unique(values))
    assert np.array_equal(isin(values, pool), np.isin(values, pool))
    assert np.array_equal(isin(pool, values), np.isin(pool, values))


def test_isin_of_values_beyond_the_pool() -> None:
    assert isin(np.array([-(2**62), 3, 2**62]), np.array([3])).tolist() == [False, True, False]
