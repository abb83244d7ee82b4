"""Fixtures for the models tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    # the direct statsmodels calls in these tests are tiny; extra BLAS threads only busy-wait
    # and made single ARIMA fits up to 100x slower on a loaded 2-core machine
    with threadpool_limits(limits=1, user_api="blas"):
        yield
