"""Safe checkpoints: bit-exact round trip, pickles refused, local weights only."""

import pickle

import pytest
import torch

from visionkit import VisionkitError
from visionkit.deep import create_model, load_checkpoint, load_pretrained, load_state_dict_file, save_checkpoint


def test_round_trip_is_bit_exact(tmp_path):
    model = create_model("resnet20", num_classes=3, seed=1)
    model(torch.randn(4, 3, 16, 16)).sum().backward()  # BN running stats move off their init
    st, js = save_checkpoint(tmp_path / "m", model.state_dict(), {"name": "resnet20", "note": "é"})
    assert st.name == "m.safetensors" and js.name == "m.json"
    tensors, config = load_checkpoint(tmp_path / "m.safetensors")
    assert config == {"name": "resnet20", "note": "é"}
    for k, v in model.state_dict().items():
        assert tensors[k].dtype == v.dtype and torch.equal(tensors[k], v), k
    clone = create_model("resnet20", num_classes=3, seed=2)
    clone.load_state_dict(tensors)
    model.eval(), clone.eval()
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(model(x), clone(x))


def test_pickle_is_refused_not_loaded(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle code ran')",))

    stem = tmp_path / "evil"
    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps({"w": Boom()}))
    (tmp_path / "evil.json").write_text("{}")
    with pytest.raises(VisionkitError, match="refusing.*pickle"):
        load_checkpoint(stem)
    torch.save({"w": torch.ones(2)}, tmp_path / "zip.safetensors")
    (tmp_path / "zip.json").write_text("{}")
    with pytest.raises(VisionkitError, match="refusing.*torch.save"):
        load_checkpoint(tmp_path / "zip")


def test_safetensors_header_starting_like_a_pickle_loads(tmp_path):
    # a header of 0x?80 bytes makes the file's first byte 0x80, a pickle's protocol byte: still safetensors
    for n in range(1, 300):
        st, _ = save_checkpoint(tmp_path / "m", {"w" * n: torch.ones(2)}, {})
        if st.read_bytes()[0] == 0x80:
            break
    assert st.read_bytes()[0] == 0x80
    tensors, _ = load_checkpoint(tmp_path / "m")
    assert torch.equal(tensors["w" * n], torch.ones(2))


def test_weights_file_pth_uses_weights_only(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle code ran')",))

    torch.save({"w": Boom()}, tmp_path / "evil.pth")
    with pytest.raises(VisionkitError, match="weights_only=True"):
        load_state_dict_file(tmp_path / "evil.pth")


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(VisionkitError, match="(?s)never downloads.*save_file"):
        create_model("resnet18", weights=tmp_path / "resnet18.safetensors")
    with pytest.raises(VisionkitError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing")


def test_torchvision_state_dict_loads_with_adaptation(tmp_path):
    from safetensors.torch import save_file
    from torchvision.models import resnet18

    tv = resnet18(weights=None, num_classes=1000)  # stands in for downloaded ImageNet weights
    save_file(tv.state_dict(), str(tmp_path / "r18.safetensors"))
    torch.save(tv.state_dict(), tmp_path / "r18.pth")
    for f in ("r18.safetensors", "r18.pth"):
        m = create_model("resnet18", num_classes=5, in_chans=1, weights=tmp_path / f)
        sd = m.state_dict()
        assert torch.equal(sd["layer3.0.conv1.weight"], tv.state_dict()["layer3.0.conv1.weight"])
        assert torch.allclose(sd["conv1.weight"], tv.conv1.weight.sum(1, keepdim=True))  # grey: summed filters
        assert sd["fc.weight"].shape == (5, 512)  # another head: fresh
    skipped = load_pretrained(create_model("resnet18", num_classes=5), tmp_path / "r18.safetensors")
    assert skipped == ["fc.bias", "fc.weight"]
    with pytest.raises(VisionkitError, match="do not fit"):
        create_model("resnet20", weights=tmp_path / "r18.safetensors")


# ------------------------------------------------------------------ hostile and damaged classifier checkpoints

import json
import time

import numpy as np

from visionkit.deep import DeepClassifier


def _classifier(model="lenet5", num_classes=3, **kwargs):
    """A DeepClassifier with fitted attributes set by hand (no training: the checkpoint is what is tested)."""
    est = DeepClassifier(model, random_state=1)
    est.model_ = create_model(model, num_classes=num_classes, in_chans=1, img_size=32, seed=0, **kwargs).eval()
    est.classes_ = np.arange(num_classes) + 10
    est.mean_, est.std_, est.img_size_, est.in_chans_, est.tta_ = [0.5], [0.25], 32, 1, 0
    est.history_ = [{"epoch": 1, "train_loss": 1.0}]
    return est


@pytest.fixture
def saved(tmp_path):
    est = _classifier()
    est.save(tmp_path / "clf")
    return est, tmp_path / "clf"


def test_good_checkpoint_round_trips(saved):
    est, stem = saved
    back = DeepClassifier.load(stem, device="cpu")
    x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 1), dtype=np.uint8)
    np.testing.assert_array_equal(back.predict_proba(x), est.predict_proba(x))
    assert back.get_params() == est.get_params() | {"device": "cpu"}
    assert list(back.classes_) == [10, 11, 12] and back.history_ == est.history_


def test_vit_with_builder_arguments_round_trips(tmp_path):
    est = _classifier("vit_cifar", dim=16, depth=1, num_heads=2)
    est.save(tmp_path / "vit")
    back = DeepClassifier.load(tmp_path / "vit", device="cpu")
    assert back.model_.visionkit_config == est.model_.visionkit_config


def _mutate(config, path, value):
    *parents, last = path
    for key in parents:
        config = config[key]
    if value is _DELETE:
        del config[last]
    else:
        config[last] = value


_DELETE = object()
_HOSTILE = {
    "params missing": (("params",), _DELETE, "params: expected a value"),
    "params a list": (("params",), [1, 2], "params: expected an object"),
    "params unknown key": (("params", "evil"), 1, "unknown keys.*expected only DeepClassifier's: model, img_size"),
    "params seed a string": (("params", "random_state"), "0", "params.random_state: expected an integer"),
    "params model another": (("params", "model"), "resnet20", "params.model: expected the model's name"),
    "kind wrong": (("kind",), "visionkit-train-state", "kind: expected 'visionkit-deep-classifier'"),
    "classes short": (("classes",), [10, 11], "classes: expected a list of model.num_classes = 3"),
    "classes nested": (("classes",), [[1], 2, 3], "classes: expected labels"),
    "mean a string": (("mean",), "0.5", "mean: expected a list of model.in_chans = 1 finite numbers"),
    "std zero": (("std",), [0.0], "std: expected .* > 0"),
    "mean NaN": (("mean",), [float("nan")], "mean: expected"),
    "tta 7": (("tta",), 7, "tta: expected 0, 1 or 2"),
    "history a dict": (("history",), {"a": 1}, "history: expected a list"),
    "img_size disagrees": (("img_size",), 64, "img_size: expected model.img_size = 32"),
    "num_classes 3,000,000": (("model", "num_classes"), 3_000_000, r"model.num_classes: expected an integer in 1..100,000"),
    "num_classes 1e400": (("model", "num_classes"), float("inf"), "model.num_classes: expected an integer"),
    "in_chans 1e6": (("model", "in_chans"), 10**6, "model.in_chans: expected an integer in 1..16"),
    "img_size 1e12": (("model", "img_size"), 10**12, "model.img_size: expected an integer in 1..4,096"),
    "depth 1e8 for lenet": (("model", "depth"), 10**8, "model.depth: not an argument a lenet5 checkpoint may carry"),
    "weights elsewhere": (("model", "weights"), "/etc/passwd", "model.weights: .*always STEM.safetensors"),
    "model unregistered": (("model", "name"), "evilnet", "model.name: expected a registered model"),
    "model missing": (("model",), _DELETE, "model: expected a value"),
    "model num_classes missing": (("model", "num_classes"), _DELETE, "model.num_classes: .*missing"),
    "num_classes disagrees with the tensors": (("model", "num_classes"), 4, "classes: expected a list of model.num_classes = 4"),
}


@pytest.mark.parametrize("case", list(_HOSTILE))
def test_malformed_json_is_one_line(saved, case):
    _, stem = saved
    path, value, message = _HOSTILE[case]
    config = json.loads(stem.with_suffix(".json").read_text())
    _mutate(config, path, value)
    stem.with_suffix(".json").write_text(json.dumps(config))
    with pytest.raises(VisionkitError, match=message) as info:
        DeepClassifier.load(stem)
    assert "\n" not in str(info.value)


def _write_json(stem, text):
    stem.with_suffix(".json").write_text(text)


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "nested deeper than 32"),
    ('{"kind": ' + "[" * 40 + "]" * 40 + "}", "nested deeper than 32"),
    ("[1, 2]", "expected a JSON object"),
    ("null", "expected a JSON object"),
    ('{"kind": 1', "not valid JSON"),
    ('{"n": ' + "9" * 5000 + "}", "not valid JSON"),
    ("", "not valid JSON"),
])
def test_malformed_json_text_is_one_line(saved, text, message):
    _, stem = saved
    _write_json(stem, text)
    with pytest.raises(VisionkitError, match=message) as info:
        DeepClassifier.load(stem)
    assert "\n" not in str(info.value)


def test_oversized_json_is_refused_unread(saved, monkeypatch):
    import visionkit.deep.checkpoint as ck

    _, stem = saved
    monkeypatch.setattr(ck, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(VisionkitError, match="at most 100 bytes"):
        DeepClassifier.load(stem)


def test_non_utf8_json_is_one_line(saved):
    _, stem = saved
    stem.with_suffix(".json").write_bytes(b'{"kind": "\xff"}')
    with pytest.raises(VisionkitError, match="not valid JSON"):
        DeepClassifier.load(stem)


@pytest.mark.parametrize("cut", [9, 100, -1, -1000])
def test_truncated_safetensors_is_one_line(saved, cut):
    _, stem = saved
    st = stem.with_suffix(".safetensors")
    data = st.read_bytes()
    st.write_bytes(data[:cut])
    with pytest.raises(VisionkitError, match="checkpoint") as info:
        DeepClassifier.load(stem)
    assert "\n" not in str(info.value)


def test_padded_safetensors_is_refused(saved):
    _, stem = saved
    st = stem.with_suffix(".safetensors")
    st.write_bytes(st.read_bytes() + b"\0" * 16)
    with pytest.raises(VisionkitError, match="the file has"):
        DeepClassifier.load(stem)


def test_tensors_of_another_model_are_refused_before_building(tmp_path):
    """The JSON says 3 classes, the file holds tensors for another head or another net: refused by shape."""
    from safetensors.torch import save_file

    _classifier(num_classes=3).save(tmp_path / "a")
    other = create_model("lenet5", num_classes=5, in_chans=1)
    save_file(other.state_dict(), str(tmp_path / "a.safetensors"))
    with pytest.raises(VisionkitError, match=r"do not fit the model.*of another shape, e.g. fc.bias \(5,\) \(expected \(3,\)\)"):
        DeepClassifier.load(tmp_path / "a")
    save_file(create_model("resnet20", num_classes=3, in_chans=1).state_dict(), str(tmp_path / "a.safetensors"))
    with pytest.raises(VisionkitError, match="missing tensors.*unexpected tensors"):
        DeepClassifier.load(tmp_path / "a")


def test_huge_vit_configuration_costs_nothing(tmp_path):
    """A ViT as wide and deep as the bounds allow is only built on the meta device, then refused by shape."""
    est = _classifier("vit_cifar", dim=16, depth=1, num_heads=2)
    est.save(tmp_path / "vit")
    config = json.loads((tmp_path / "vit.json").read_text())
    config["model"].update(dim=4096, depth=64, num_heads=64)
    (tmp_path / "vit.json").write_text(json.dumps(config))
    t = time.perf_counter()
    with pytest.raises(VisionkitError, match="do not fit the model"):
        DeepClassifier.load(tmp_path / "vit")
    assert time.perf_counter() - t < 5
    config["model"].update(depth=10**8)
    (tmp_path / "vit.json").write_text(json.dumps(config))
    with pytest.raises(VisionkitError, match="model.depth: expected an integer in 1..64"):
        DeepClassifier.load(tmp_path / "vit")
    config["model"].update(depth=1, dim=30, num_heads=4)  # the builder's own check
    (tmp_path / "vit.json").write_text(json.dumps(config))
    with pytest.raises(VisionkitError, match="does not build.*divisor"):
        DeepClassifier.load(tmp_path / "vit")


def test_pretrained_record_is_dropped_not_loaded(tmp_path):
    """efficientnet_lite0 records "pretrained": "imagenet-1k"; loading builds from the checkpoint alone."""
    pytest.importorskip("timm")
    est = DeepClassifier("efficientnet_lite0")
    est.model_ = create_model("efficientnet_lite0", num_classes=2, in_chans=3, img_size=32, seed=0).eval()
    est.model_.visionkit_config["pretrained"] = "imagenet-1k"
    est.classes_ = np.arange(2)
    est.mean_, est.std_, est.img_size_, est.in_chans_, est.tta_, est.history_ = [0.5] * 3, [0.5] * 3, 32, 3, 0, []
    est.save(tmp_path / "lite")
    back = DeepClassifier.load(tmp_path / "lite", device="cpu")
    sd, sd0 = back.model_.state_dict(), est.model_.state_dict()
    assert all(torch.equal(sd[k], sd0[k]) for k in sd0)


def test_params_without_model_take_the_checkpoints_model(saved):
    """Older or hand-written checkpoints may leave params.model out: the estimator names the model it holds."""
    _, stem = saved
    config = json.loads(stem.with_suffix(".json").read_text())
    del config["params"]["model"]
    stem.with_suffix(".json").write_text(json.dumps(config))
    assert DeepClassifier.load(stem, device="cpu").model == "lenet5"


def test_checkpoint_params_schema_covers_every_deep_classifier_parameter():
    # a new DeepClassifier parameter without a schema entry would make every checkpoint unloadable
    from visionkit.deep.estimator import _PARAM_SCHEMA

    assert set(_PARAM_SCHEMA) == set(DeepClassifier().get_params())
