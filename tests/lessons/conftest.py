"""One torch thread for the lesson tests: their nets are tiny, and on a shared 2-core machine two
threads spinning against other jobs made them 10-30x slower (measured). Restored after each module."""

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
