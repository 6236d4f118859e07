"""Safe checkpoints: bit-exact round trip, pickles refused, local weights only."""

import pickle

import pytest
import torch

from visionkit import VisionkitError
from visionkit.deep.checkpoint import load_checkpoint, load_pretrained, load_state_dict_file, save_checkpoint
from visionkit.deep.models import create_model


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
