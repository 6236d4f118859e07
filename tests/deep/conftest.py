"""Tiny tensors gain nothing from a second thread, and on a shared 2-core machine two threads stall each
other (every op waits for the slower one): the deep tests run single-threaded, then restore the setting."""

import pytest
import torch

from visionkit.deep import load_backbone


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def lite0():
    """EfficientNet-Lite0 with its ImageNet weights (from the installed weights package)."""
    return load_backbone("efficientnet_lite0")
