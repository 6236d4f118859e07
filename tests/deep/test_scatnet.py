"""The scattering hybrid: its front end is the scattering transform, untouched; only the head learns.

The registry-wide model tests (``test_models.py``) already run it forward and backward at any
channels and classes, check its parameter count and minimum size, and overfit a tiny batch.
"""

import numpy as np
import pytest
import torch

from visionkit import VisionkitError, registry
from visionkit.classical.scattering import scattering2d, scattering_channels
from visionkit.deep.models import count_parameters, create_model
from visionkit.deep.models.scatnet import ScatteringHybrid


def _rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_front_end_is_the_scattering_transform():
    net = create_model("scatnet_cifar", seed=0).eval()
    x = _rand(2, 3, 32, 32)
    s = net.scatter(x)
    assert s.shape == (2, 3 * 81, 8, 8)
    ref = scattering2d(x, J=2, L=8).reshape(2, 3 * 81, 8, 8)  # channel-major: (c, path)
    torch.testing.assert_close(s, ref, rtol=0, atol=0)
    # the head sees exactly these maps: replace the front end by them and get the same logits
    with torch.no_grad():
        maps = net.layer2(net.layer1(net.stem(net.norm(ref))))
        head = net.fc(net.avgpool(maps).flatten(1))
        torch.testing.assert_close(net(x), head)


def test_nothing_in_the_front_end_learns():
    net = create_model("scatnet_cifar", seed=0)
    assert not list(net.scattering.parameters()) and not list(net.scattering.buffers())
    assert not any(k.startswith("scattering") for k in net.state_dict())
    assert not any(p.requires_grad for p in net.norm.parameters())  # batch norm without affine parameters
    assert count_parameters(net) == count_parameters(net, trainable_only=True)


def test_front_end_runs_in_float32_under_bf16_autocast_and_records_no_graph():
    net = create_model("scatnet_cifar", seed=0).eval()
    x = _rand(2, 3, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        s = net.scatter(x)
    assert s.dtype == torch.float32
    torch.testing.assert_close(s, net.scatter(x))
    assert not net.scatter(x).requires_grad  # the input needs no gradient: no graph through the FFTs
    # a saliency map needs one: then the gradient reaches the pixels
    xg = x.clone().requires_grad_(True)
    net(xg)[:, 0].sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all() and xg.grad.abs().sum() > 0


def test_scales_orientations_and_widths():
    net = ScatteringHybrid(num_classes=4, in_chans=1, J=1, L=4, widths=(8, 16), depth=1)
    assert net.norm.num_features == scattering_channels(1, 4)  # 1 + 1 * 4
    assert net(_rand(3, 1, 12, 12)).shape == (3, 4)
    assert net.fc.in_features == 16


def test_bad_inputs_are_clear_errors():
    net = create_model("scatnet_cifar").eval()
    with pytest.raises(VisionkitError, match="C=3"):
        net(torch.zeros(1, 1, 32, 32))
    with pytest.raises(VisionkitError, match="at least 8x8"):
        net(torch.zeros(1, 3, 7, 7))
    with pytest.raises(VisionkitError, match="J"):
        ScatteringHybrid(J=0)
    for widths in [(64,), (64, 0), (64.0, 128), "64-128"]:
        with pytest.raises(VisionkitError, match="widths: expected two positive integers"):
            ScatteringHybrid(widths=widths)
    with pytest.raises(VisionkitError, match="depth: expected an integer >= 1, got int 0"):
        ScatteringHybrid(depth=0)


@pytest.mark.slow
def test_registered_method_learns_digits_and_round_trips(tmp_path):
    # the harness protocol on real digits (8x8, raised to 16 px: 4x4 scattering maps): the head must
    # learn them in 200 steps (~30 s; 60 steps left it at 45 % even on its training images), and a
    # saved model predicts the same after loading
    from visionkit.data import load_digits
    from visionkit.deep import DeepClassifier

    d = load_digits()
    idx = np.random.default_rng(0).permutation(len(d.labels))
    x_tr, y_tr, x_te, y_te = d.images[idx[:600]], d.labels[idx[:600]], d.images[idx[1200:1500]], d.labels[idx[1200:1500]]
    assert registry.get_spec("scatnet").family == "deep"
    clf = registry.create("scatnet", epochs=1, min_steps=200, img_size=16, batch_size=64, augment="none",
                          random_state=0).fit(x_tr, y_tr)
    acc = float(np.mean(clf.predict(x_te) == y_te))
    assert acc > 0.9, acc  # 1.0 here
    proba = clf.predict_proba(x_te[:5])
    assert proba.shape == (5, 10)
    clf.save(tmp_path / "scatnet")
    back = DeepClassifier.load(tmp_path / "scatnet")
    np.testing.assert_allclose(back.predict_proba(x_te[:5]), proba, rtol=0, atol=1e-6)


def test_network_figure_shows_the_fixed_wavelets_as_the_first_layer():
    # the head's first conv sees 243 scattering maps, not pixels: the figure shows the wavelets instead
    from visionkit import sample_image
    from visionkit.deep import DeepClassifier
    from visionkit.viz import network_figure

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    clf = DeepClassifier("scatnet_cifar", epochs=1, batch_size=10, random_state=0).fit(x, np.arange(20) % 2)
    img = (sample_image("chelsea", mode="rgb")[:128, :128] * 255).round().astype(np.uint8)
    fig = network_figure(clf, img)
    titles = " | ".join(ax.get_title() for ax in fig.axes)
    assert "fixed first layer" in titles and "Morlet wavelets, 2 scales x 8 orientations" in titles, titles
    assert "first-layer filters" not in titles
    for part in ("early layer 'stem'", "middle layer 'layer1'", "late layer 'layer2'", "Grad-CAM"):
        assert part in titles, part
