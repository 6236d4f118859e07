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


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("visionkit: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("seeds", ["-1", "1e23", "100000000000000000000000", "4294967296", "0,x", ","])
def test_cli_refuses_bad_seeds_in_one_line(tmp_path, capsys, monkeypatch, seeds):
    import visionkit.bench

    monkeypatch.setattr(visionkit.bench, "load_data", lambda *a, **k: pytest.fail("data loaded before the arguments were checked"))
    assert main(["compare", f"--seeds={seeds}", "--methods", "pixels-svm", "--out", str(tmp_path / "o")]) == 2
    assert "--seeds: expected" in _one_line_error(capsys)


def test_cli_refuses_an_out_that_is_a_file_before_computing(tmp_path, capsys, monkeypatch):
    import visionkit.bench

    monkeypatch.setattr(visionkit.bench, "load_data", lambda *a, **k: pytest.fail("data loaded before --out was checked"))
    (tmp_path / "taken").write_text("mine")
    assert main(["compare", "--methods", "pixels-svm", "--out", str(tmp_path / "taken")]) == 2
    assert "--out: expected a folder" in _one_line_error(capsys) and (tmp_path / "taken").read_text() == "mine"
    assert main(["compare", "--methods", "pixels-svm", "--out", str(tmp_path / "taken" / "sub")]) == 2
    assert "--out: expected a folder that can be created" in _one_line_error(capsys)


def test_cli_errors_one_line_for_os_errors_and_a_report_pointer_for_bugs(capsys, monkeypatch):
    import visionkit.cli

    def disk_full(args):
        raise OSError(28, "No space left on device", "out/report.html")

    monkeypatch.setattr(visionkit.cli, "cmd_methods", disk_full)
    assert main(["methods"]) == 1
    assert "No space left on device: 'out/report.html'" in _one_line_error(capsys)

    def bug(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(visionkit.cli, "cmd_methods", bug)
    assert main(["methods"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err
    assert err.strip().splitlines()[-1].startswith("visionkit: internal error (a bug): please report it")
