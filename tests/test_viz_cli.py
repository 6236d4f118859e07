import numpy as np
import pytest

from visionkit import VisionkitError, sample_image
from visionkit.cli import main
from visionkit.viz import save_figure, sobel_harris_figure


def _panel_variances(fig):
    out = []
    for ax in fig.axes:
        ims = ax.get_images()
        if ims:
            arr = np.ma.filled(ims[0].get_array().astype(float), 0.0)
            out.append((ax.get_title(), float(np.var(arr))))
    return out


def test_sobel_harris_figure_has_six_non_blank_panels(tmp_path):
    fig = sobel_harris_figure(sample_image("chelsea"), title="chelsea")
    panels = _panel_variances(fig)
    assert len(panels) == 6
    titles = " ".join(t for t, _ in panels)
    for word in ("original", "Gx", "Gy", "magnitude", "orientation", "Harris R"):
        assert word in titles
    assert all(v > 0 for _, v in panels)
    out = save_figure(fig, tmp_path / "f.png")
    assert out.stat().st_size > 10_000
    save_figure(fig, tmp_path / "f.svg")
    with pytest.raises(VisionkitError, match=".png"):
        save_figure(fig, tmp_path / "f.txt")


def test_cli_show_writes_png(tmp_path, capsys):
    out = tmp_path / "fig.png"
    assert main(["show", "camera", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_reports_bad_input(tmp_path, capsys):
    assert main(["show", str(tmp_path / "missing.png"), "--out", str(tmp_path / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
