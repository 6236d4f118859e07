"""Every demo runs end to end with --quick and writes its figures (CI runs them all; slow: a minute or more each)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DEMOS = sorted((ROOT / "demos").glob("*.py"))


@pytest.mark.parametrize("demo", DEMOS, ids=[d.stem for d in DEMOS])
def test_demo_runs_quick(demo, tmp_path):
    # the checkout's visionkit, not whichever copy is installed (a worktree's demos call its own API)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(demo), "--quick", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pngs = list(tmp_path.rglob("*.png"))
    # the report's thumbnails of misclassified test images (examples/) are small; the figures are not
    figures = [p for p in pngs if "examples" not in p.relative_to(tmp_path).parts]
    assert figures, f"{demo.name} wrote no figure"
    assert all(p.stat().st_size > 5000 for p in figures)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
