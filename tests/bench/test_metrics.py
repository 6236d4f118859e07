"""PeakMemory: the resident memory of the process and its workers, with known allocations."""

import subprocess
import sys

import numpy as np
import pytest

from visionkit import VisionkitError
from visionkit.bench import PeakMemory


def test_counts_an_allocation_in_this_process():
    with PeakMemory(interval=0.01) as mem:
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        del block
    assert 190 <= mem.increase_mb <= 260
    assert mem.peak_mb >= mem.start_mb + 190
    assert mem.start_mb > 20  # the interpreter and numpy are resident: an absolute figure, not a difference


def test_counts_a_worker_process():
    code = "import numpy as np, time; a = np.ones(150 * 2**20 // 8); time.sleep(0.5)"
    with PeakMemory(interval=0.02) as mem:
        subprocess.run([sys.executable, "-c", code], check=True)
    assert mem.increase_mb >= 140  # the child's 150 MiB; without it this would be ~0


def test_nothing_allocated_is_near_zero_and_bad_interval():
    with PeakMemory() as mem:
        pass
    assert 0 <= mem.increase_mb < 5 and mem.peak_mb >= mem.start_mb
    with pytest.raises(VisionkitError, match="interval: expected seconds > 0, got 0"):
        PeakMemory(interval=0)
