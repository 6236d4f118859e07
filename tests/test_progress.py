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


def test_classical_steps_show_their_bars(capsys):
    from sklearn.datasets import load_digits

    from visionkit import registry

    d = load_digits()
    x = np.minimum(d.images[:40] * 16, 255).astype(np.uint8)
    with visionkit.verbose():
        registry.create("hog-svm").fit(x, d.target[:40])
        registry.create("bovw-svm", n_words=8, max_descriptors=2000, patch_sizes=(16,), pyramid=(1,)).fit(
            np.stack([np.kron(im, np.ones((4, 4), np.uint8)) for im in x]), d.target[:40])
    err = capsys.readouterr().err
    for step in ("HOG", "linear SVM fit (40 x", "descriptors for the vocabulary", "k-means: 8 words",
                 "descriptors + "):
        assert step in err, step
