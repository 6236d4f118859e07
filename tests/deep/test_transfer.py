"""Transfer (deep/transfer.py): the feature cache, PretrainedFeaturesSVM, fine-tuning after a linear probe."""

import numpy as np
import pytest
import torch

from tests.conftest import two_classes
from visionkit import VisionkitError
from visionkit.deep import DeepClassifier, PretrainedFeaturesSVM, cached_features, create_model, image_digests, load_backbone
from visionkit.deep.models import resize_center_crop

torch.set_num_threads(1)


def test_feature_cache_reuses_rows_and_survives_damage(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 40, 40, 3), dtype=np.uint8)
    bb = load_backbone("efficientnet_lite0", img_size=64)
    first = cached_features(bb, imgs[:3], cache=tmp_path)
    calls = []
    real = bb.features
    monkeypatch.setattr(bb, "features", lambda x, **k: calls.append(len(x)) or real(x, **k))
    both = cached_features(bb, imgs, cache=tmp_path)
    assert calls == [2]  # only the two new images were computed
    np.testing.assert_array_equal(both[:3], first)
    assert len(image_digests(imgs)) == 5 and image_digests(imgs[:1]) == image_digests(imgs[:1].copy())
    # a damaged chunk is dropped with a warning and recomputed
    for f in tmp_path.rglob("*.npz"):
        f.write_bytes(b"junk")
    with pytest.warns(UserWarning, match="damaged"):
        again = cached_features(bb, imgs, cache=tmp_path)
    np.testing.assert_allclose(again, both, atol=1e-5)


def test_feature_cache_that_cannot_be_written_only_warns(tmp_path):
    bb = load_backbone("efficientnet_lite0", img_size=64)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="could not write"):
        f = cached_features(bb, np.zeros((1, 32, 32, 3), np.uint8), cache=blocker)
    assert f.shape == (1, 1280)


def test_pretrained_features_svm(tmp_path):
    x, y = two_classes()
    clf = PretrainedFeaturesSVM(img_size=64, cache=tmp_path).fit(x, y)
    assert clf.pretrained_on_ == "imagenet-1k" and (clf.predict(x) == y).all()
    f = clf.transform(x[:3])
    assert f.shape == (3, 1280)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1, rtol=1e-5)
    with pytest.raises(VisionkitError, match="labels"):
        PretrainedFeaturesSVM(img_size=64, cache=False).fit(x, y[:3])
    with pytest.raises(VisionkitError, match="no pretrained weights"):
        PretrainedFeaturesSVM(backbone="resnet20", cache=False).fit(x, y)


def test_finetune_uses_the_weights_preprocessing_and_round_trips(tmp_path):
    x, y = two_classes()
    clf = DeepClassifier("efficientnet_lite0", pretrained=True, img_size=64, epochs=1, batch_size=6, device="cpu").fit(x, y)
    assert clf.pretrained_on_ == "imagenet-1k" and clf.mean_ == [0.5, 0.5, 0.5] and clf.img_size_ == 64
    assert clf.probe_train_accuracy_ == 1.0  # LP-FT: the head was fitted on the frozen features first
    clf.save(tmp_path / "ft")
    back = DeepClassifier.load(tmp_path / "ft", device="cpu")
    np.testing.assert_allclose(back.predict_proba(x), clf.predict_proba(x), atol=1e-5)
    with pytest.raises(VisionkitError, match="no pretrained weights"):
        DeepClassifier("resnet20", pretrained=True).fit(x, y)
    with pytest.raises(VisionkitError, match="head_init"):
        DeepClassifier("efficientnet_lite0", pretrained=True, img_size=64, head_init="zeros").fit(x, y)


def test_linear_probe_fits_the_head_on_frozen_features():
    from visionkit.deep.transfer import linear_probe

    x, y = two_classes()
    model = create_model("efficientnet_lite0", num_classes=2, pretrained=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    u8 = resize_center_crop(x, 64)
    acc = linear_probe(model, u8, y, [0.5] * 3, [0.5] * 3)
    assert acc == 1.0
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"classifier.weight", "classifier.bias"}  # the backbone is untouched
    with pytest.raises(VisionkitError, match="labels in 0..1"):
        linear_probe(model, u8, y + 5, [0.5] * 3, [0.5] * 3)


def test_feature_cache_read_marks_it_recently_used(tmp_path):
    import os

    from visionkit.data import cache_entries

    imgs = np.zeros((2, 32, 32, 3), np.uint8)
    small, large = load_backbone("efficientnet_lite0", img_size=32), load_backbone("efficientnet_lite0", img_size=40)
    cached_features(small, imgs, cache=tmp_path)
    cached_features(large, imgs, cache=tmp_path)
    for e in cache_entries(tmp_path):  # both written long ago, the 32 px one first
        for f in [e.path, *e.path.rglob("*")]:
            os.utime(f, (1e9 if "-32-" in e.path.name else 1e9 + 10,) * 2)
    assert ["-32-" in e.path.name for e in cache_entries(tmp_path)] == [True, False]
    cached_features(small, imgs, cache=tmp_path)  # a read: now the most recently used
    assert ["-32-" in e.path.name for e in cache_entries(tmp_path)] == [False, True]
