"""Progress bars inside long steps (visionkit._progress): one switch, nested, quiet by default."""

import io

import numpy as np
import pytest

import visionkit
from visionkit._progress import is_verbose, progress_bar, stage


def test_quiet_by_default_and_when_switched_off():
    assert is_verbose() is None
    assert progress_bar(range(3), desc="x").disable
    with visionkit.verbose(False):
        assert progress_bar(range(3), desc="x").disable
        assert not progress_bar(range(3), desc="x", force=True).disable  # an estimator's own progress=True
    assert is_verbose() is None


def test_drawn_when_switched_on_and_restored_after():
    buf = io.StringIO()
    with visionkit.verbose():
        assert is_verbose() is True
        for _ in progress_bar(range(4), desc="descriptors", file=buf):
            pass
    assert "descriptors" in buf.getvalue() and "0/4" in buf.getvalue()  # leave=False: cleared when done
    assert is_verbose() is None


def test_auto_draws_only_on_a_terminal():
    buf = io.StringIO()  # not a terminal
    with visionkit.verbose("auto"):
        bar = progress_bar(range(2), desc="x", file=buf)
        list(bar)
    assert buf.getvalue() == ""


def test_stage_shows_elapsed_time(capsys):
    with visionkit.verbose():
        with stage("fitting the SVM", interval=0.01):
            import time

            time.sleep(0.05)
    err = capsys.readouterr().err
    assert "fitting the SVM" in err and " s)" in err


def test_stage_is_silent_and_threadless_when_off(capsys):
    import threading

    before = threading.active_count()
    with stage("quiet"):
        assert threading.active_count() == before
    assert capsys.readouterr().err == ""


def test_bad_setting_is_refused():
    with pytest.raises(visionkit.VisionkitError, match="verbose: expected True, False or 'auto', got 'yes'"):
        with visionkit.verbose("yes"):
            pass


def test_run_experiment_verbose_shows_epochs_and_prediction(tmp_path, capsys):
    from visionkit.bench import load_data, run_experiment

    split = load_data("digits")
    run_experiment(split, ["lenet"], out=str(tmp_path), per_class=[5], seeds=[0], progress=False, verbose=True,
                   method_params={"lenet": {"epochs": 2, "min_steps": 2}}, log=lambda *a: None)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "images_per_s=" in err and "predicting" in err
    # and quiet without it
    run_experiment(split, ["lenet"], out=str(tmp_path / "b"), per_class=[5], seeds=[0], progress=False,
                   method_params={"lenet": {"epochs": 2, "min_steps": 2}}, log=lambda *a: None)
    assert capsys.readouterr().err == ""
