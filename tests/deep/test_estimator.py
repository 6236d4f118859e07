"""DeepClassifier and the registered deep methods, on scikit-learn's 8x8 digits."""

import numpy as np
import pytest
import torch

from visionkit import VisionkitError, registry
from visionkit.data import load_digits
from visionkit.deep import DeepClassifier, prepare_images


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(d.labels))
    return d.images[idx[:600]], d.labels[idx[:600]], d.images[idx[1200:1500]], d.labels[idx[1200:1500]]


@pytest.fixture(scope="module")
def lenet(digits):
    xtr, ytr, _, _ = digits
    return DeepClassifier("lenet5", epochs=12, random_state=0).fit(xtr, ytr + 10)  # labels need not be 0..K-1


def test_lenet_on_digits(lenet, digits):
    _, _, xte, yte = digits
    assert lenet.img_size_ == 32  # 8x8 digits raised to LeNet's minimum
    acc = (lenet.predict(xte) == yte + 10).mean()
    assert acc > 0.85, acc
    proba = lenet.predict_proba(xte[:5])
    assert proba.shape == (5, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert list(lenet.classes_) == list(range(10, 20))


def test_transform_feature_maps_filters(lenet, digits):
    _, _, xte, _ = digits
    emb = lenet.transform(xte[:7])
    assert emb.shape == (7, 84) and emb.dtype == np.float32
    maps = lenet.feature_maps(xte[:3])
    assert list(maps) == ["c1", "c3", "c5"]
    assert maps["c1"].shape == (3, 6, 28, 28) and maps["c3"].shape == (3, 16, 10, 10) and maps["c5"].shape == (3, 120, 1, 1)
    assert lenet.first_conv_filters().shape == (6, 1, 5, 5)


def test_save_load_same_predictions(lenet, digits, tmp_path):
    _, _, xte, _ = digits
    lenet.save(tmp_path / "lenet")
    back = DeepClassifier.load(tmp_path / "lenet")
    np.testing.assert_array_equal(back.predict_proba(xte), lenet.predict_proba(xte))


def test_vit_feature_maps_are_grids(digits):
    xtr, ytr, xte, _ = digits
    clf = DeepClassifier("vit_cifar", epochs=1, batch_size=100, random_state=0)
    clf.fit(xtr[:200], ytr[:200])
    maps = clf.feature_maps(xte[:2])
    assert [m.shape for m in maps.values()] == [(2, 192, 2, 2)] * 3  # 8x8 input -> 2x2 grid of 4x4 patches
    assert clf.first_conv_filters().shape == (192, 1, 4, 4)


def test_input_errors(lenet):
    with pytest.raises(VisionkitError, match=r"uint8 images of shape \(N, H, W, C\)"):
        lenet.predict(np.zeros((2, 8, 8), np.uint8))
    # colour into a grey model follows the colour rule (BT.709 luminance), grey into colour is repeated
    grey = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)
    np.testing.assert_array_equal(lenet.predict(np.repeat(grey, 3, axis=3)), lenet.predict(grey))
    with pytest.raises(VisionkitError, match="C = 1 or 3"):
        lenet.predict(np.zeros((2, 8, 8, 2), np.uint8))
    with pytest.raises(VisionkitError, match="at least 32"):
        DeepClassifier("lenet5", img_size=16).fit(np.zeros((4, 8, 8, 1), np.uint8), [0, 1, 0, 1])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DeepClassifier().predict(np.zeros((1, 8, 8, 1), np.uint8))


def test_prepare_images_resizes_lists():
    imgs = [np.full((10, 12, 3), 200, np.uint8), np.zeros((5, 7, 3), np.uint8)]
    x = prepare_images(imgs, 16)
    assert x.shape == (2, 3, 16, 16) and x.dtype == torch.uint8
    assert int(x[0].min()) == 200 and int(x[1].max()) == 0


def test_deep_methods_registered():
    names = registry.list_methods("deep")
    assert {"lenet", "resnet", "vit", "convnext", "efficientnet", "cnn-features-svm"} <= set(names)


@pytest.mark.parametrize("name", ["resnet", "vit", "convnext", "efficientnet"])
def test_each_method_runs_on_digits(name, digits):
    xtr, ytr, xte, yte = digits
    # min_steps=None: one epoch of 3 steps (the registered 150-step floor took 91 s for efficientnet)
    est = registry.create(name, epochs=1, batch_size=32, min_steps=None)
    est.fit(xtr[:96], ytr[:96])
    assert len(est.history_) == 1 and est.train_steps_ == 3
    pred = est.predict(xte[:64])
    assert pred.shape == (64,) and set(pred) <= set(range(10))
    assert est.transform(xte[:4]).shape[0] == 4


def test_cnn_features_svm(digits):
    xtr, ytr, xte, yte = digits
    est = registry.create("cnn-features-svm", cnn="lenet5", cnn_options={"epochs": 8})
    est.fit(xtr, ytr)
    feats = est.transform(xte[:5])
    assert np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-5)
    assert (est.predict(xte) == yte).mean() > 0.85


CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def test_class_names_kept_through_save_and_load(digits, tmp_path):
    import json

    xtr, ytr, xte, _ = digits
    clf = DeepClassifier("lenet5", epochs=1, random_state=0).fit(xtr[:200], ytr[:200], class_names=CIFAR_NAMES)
    assert clf.class_names_ == CIFAR_NAMES
    clf.save(tmp_path / "named")
    back = DeepClassifier.load(tmp_path / "named")
    assert back.class_names_ == CIFAR_NAMES
    assert back.class_names_[6] == "frog"
    # without names: None, saved as null; a checkpoint written before names were kept loads as None
    plain = DeepClassifier("lenet5", epochs=1, random_state=0).fit(xtr[:200], ytr[:200])
    assert plain.class_names_ is None
    plain.save(tmp_path / "plain")
    cfg = json.loads((tmp_path / "plain.json").read_text())
    assert cfg["class_names"] is None
    del cfg["class_names"]
    (tmp_path / "plain.json").write_text(json.dumps(cfg))
    assert DeepClassifier.load(tmp_path / "plain").class_names_ is None


def test_class_names_errors(digits):
    xtr, ytr, _, _ = digits
    clf = DeepClassifier("lenet5", epochs=1, random_state=0)
    with pytest.raises(VisionkitError, match=r"class_names: expected a name for every label, i.e. integer labels in 0..4"):
        clf.fit(xtr[:100], ytr[:100], class_names=CIFAR_NAMES[:5])
    with pytest.raises(VisionkitError, match="class_names: expected a list of str"):
        clf.fit(xtr[:100], ytr[:100], class_names="0123456789")
    with pytest.raises(VisionkitError, match="class_names: expected a list of str"):
        clf.fit(xtr[:100], ytr[:100], class_names=list(range(10)))
    with pytest.raises(VisionkitError, match="integer labels"):
        clf.fit(xtr[:100], np.array(CIFAR_NAMES)[ytr[:100]], class_names=CIFAR_NAMES)


# ---------------------------------------------------------------------------------- the photo recipe

def _photos(n_per_class: int = 4):
    from skimage import data as skdata

    rng = np.random.default_rng(0)
    out, labels = [], []
    for k, im in enumerate((skdata.chelsea(), skdata.coffee())):
        for _ in range(n_per_class):
            h, w = rng.integers(70, 100, 2)
            y0, x0 = rng.integers(0, 100, 2)
            out.append(np.ascontiguousarray(im[y0:y0 + h, x0:x0 + w]))
            labels.append(k)
    return out, np.array(labels)


def test_is_photo_set():
    from visionkit.deep.estimator import is_photo_set

    assert is_photo_set([np.zeros((10, 10, 3), np.uint8)])
    assert is_photo_set(np.zeros((2, 100, 120, 3), np.uint8))
    assert not is_photo_set(np.zeros((2, 32, 32, 3), np.uint8))
    assert not is_photo_set(np.zeros((2, 64, 200, 3), np.uint8))


def test_photo_overrides_apply_to_photos_only_and_survive_a_checkpoint(tmp_path):
    photos = {"model": "resnet18", "img_size": 40, "augment": "photo", "batch_size": 4, "min_steps": 6}
    x, y = _photos()
    clf = DeepClassifier("resnet20", epochs=1, photos=photos, random_state=0).fit(x, y)
    assert (clf.model_name_, clf.img_size_) == ("resnet18", 40)
    assert clf.train_config_["augment"] == "photo" and clf.train_config_["batch_size"] == 4
    assert clf.train_steps_ >= 6 and clf.train_config_["epochs"] == 3  # 8 photos / batch 4 = 2 steps an epoch
    clf.save(tmp_path / "ck")
    again = DeepClassifier.load(tmp_path / "ck")
    assert (again.model, again.img_size, again.photos) == ("resnet18", 40, None)
    np.testing.assert_array_equal(again.predict(x), clf.predict(x))
    # thumbnails keep the estimator's own options
    thumbs = np.stack([np.asarray(im[:32, :32]) for im in x])
    small = DeepClassifier("resnet20", epochs=1, photos=photos, random_state=0).fit(thumbs, y)
    assert small.model_name_ == "resnet20" and small.img_size_ == 32 and small.train_config_["augment"] == "crop-flip"


def test_photo_overrides_are_checked():
    x, y = _photos(2)
    with pytest.raises(VisionkitError, match="photos: expected a dict with keys among"):
        DeepClassifier("resnet20", photos={"modle": "resnet18"}).fit(x, y)


def test_registered_methods_use_the_photo_recipe_unless_told_otherwise():
    from visionkit import registry
    from visionkit.deep.methods import PHOTO_RECIPE

    assert registry.create("resnet").photos == PHOTO_RECIPE
    # explicit options win over the photo recipe
    assert registry.create("resnet", img_size=64, min_steps=2).photos == {"model": "resnet18", "augment": "photo",
                                                                          "batch_size": 64}
    assert registry.create("resnet", photos=None).photos is None
    assert registry.create("efficientnet").photos.get("model") is None


def test_streamed_folder_trains_and_predicts_through_dataloader_workers(tmp_path):
    """A folder decoded on demand: batches in the seeded permutation's order, so the same seed gives the same
    network with 0 or 1 DataLoader workers, and the network the in-memory images give."""
    from tests.conftest import shaded_folder
    from visionkit.data import load_image_folder
    from visionkit.deep.train import StreamedImages

    shaded_folder(tmp_path, {"": 8}, side=20, std=30)
    eager, lazy = load_image_folder(tmp_path), load_image_folder(tmp_path, lazy=True)
    opts = dict(img_size=32, epochs=2, batch_size=8, device="cpu", random_state=3, train_options={"amp": False})
    logits = {}
    for name, images, workers in (("memory", eager.images, 0), ("stream0", lazy.images, 0), ("stream1", lazy.images, 1)):
        clf = DeepClassifier("lenet5", num_workers=workers, **opts).fit(images, eager.labels)
        logits[name] = clf.predict_proba(images)
        assert clf.transform(images).shape[0] == 24 and clf.img_size_ == 32
    np.testing.assert_array_equal(logits["stream0"], logits["stream1"])
    np.testing.assert_allclose(logits["stream0"], logits["memory"], rtol=1e-5, atol=1e-6)
    # the wrapper decodes only what is asked for, as uint8 (n, C, h, w)
    streamed = StreamedImages(lazy.images, lambda batch: prepare_images(batch, 32))
    assert streamed.shape == (24, 3, 32, 32) and streamed[np.array([0, 5])].dtype == torch.uint8
    assert [b.shape[0] for b in streamed.batches([np.arange(5), np.arange(5, 7)])] == [5, 2]
    with pytest.raises(VisionkitError, match="num_workers: expected an integer >= 0"):
        StreamedImages(lazy.images, lambda b: b, num_workers=-1)
