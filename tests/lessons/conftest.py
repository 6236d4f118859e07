"""One thread for torch and for numpy's BLAS in the lesson tests: their problems are tiny, and on the
shared 2-core machine two threads spinning against other jobs made them 5-30x slower (measured).
Both are restored after each module."""

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)
