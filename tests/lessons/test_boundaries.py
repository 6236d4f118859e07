"""Decision boundaries: one neuron is linear, four ReLU neurons bend, a deeper MLP fits XOR."""

import copy
import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from visionkit import VisionkitError
from visionkit.lessons import mlp
from visionkit.lessons.boundaries import (
    DEFAULT_ARCHITECTURES,
    decision_boundary_figure,
    decision_values,
    fit_boundary_nets,
    toy_dataset,
)


@pytest.fixture(scope="module")
def xor_nets():
    X, y = toy_dataset("xor", 200, random_state=0)
    return X, y, fit_boundary_nets(X, y, epochs=150, random_state=0)


@pytest.fixture(scope="module")
def circle_nets():
    X, y = toy_dataset("circles", 200, random_state=1)
    return X, y, fit_boundary_nets(X, y, DEFAULT_ARCHITECTURES[:2], epochs=150, random_state=0)


def test_toy_datasets_are_standardised_and_seeded():
    for name in ("moons", "circles", "xor", "linear"):
        X, y = toy_dataset(name, 100, random_state=5)
        assert X.shape == (100, 2) and set(np.unique(y)) == {-1, 1}
        np.testing.assert_allclose(X.mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(X.std(0), 1, atol=1e-12)
        X2, y2 = toy_dataset(name, 100, random_state=5)
        assert np.array_equal(X, X2) and np.array_equal(y, y2)
    with pytest.raises(VisionkitError):
        toy_dataset("spirals")


def test_one_neuron_boundary_is_a_line(xor_nets):
    _, _, nets = xor_nets
    net = nets[0].net
    grid = np.random.default_rng(0).uniform(-3, 3, size=(500, 2))
    f = decision_values(net, grid)
    # f is exactly affine: least squares on [x, 1] leaves no residual, so {f = 0} is a line
    design = np.column_stack([grid, np.ones(len(grid))])
    coef, *_ = np.linalg.lstsq(design, f, rcond=None)
    assert np.max(np.abs(design @ coef - f)) < 1e-5


def test_xor_needs_more_than_one_neuron(xor_nets):
    X, y, nets = xor_nets
    acc = [n.train_accuracy for n in nets]
    # no line separates XOR: the best linear rule is far from perfect, the deeper MLP fits it
    assert acc[0] < 0.8
    assert acc[2] >= 0.97
    assert acc[2] > acc[0] + 0.2


def test_four_relu_neurons_bend_circles(circle_nets):
    X, y, nets = circle_nets
    assert nets[0].train_accuracy < 0.75  # a line cannot cut a disc out of a ring
    assert nets[1].train_accuracy >= 0.95  # four half-planes can


def test_four_relu_neurons_piecewise_linear_with_at_most_four_kinks(circle_nets):
    net = copy.deepcopy(circle_nets[2][1].net).double()
    # along any line, each of the 4 hidden units switches at most once: f is piecewise linear, <= 4 kinks
    rng = np.random.default_rng(0)
    for _ in range(5):
        p, d = rng.normal(size=2), rng.normal(size=2)
        t = np.linspace(-4, 4, 4001)
        f = decision_values(net, p + t[:, None] * d)
        second = np.abs(np.diff(f, 2))
        kinks = np.flatnonzero(second > 1e-9)
        # adjacent grid indices belong to the same kink
        n_kinks = 0 if len(kinks) == 0 else 1 + int(np.sum(np.diff(kinks) > 1))
        assert n_kinks <= 4


def test_figure_has_one_panel_per_net_and_saves_png(xor_nets):
    X, y, nets = xor_nets
    fig = decision_boundary_figure(nets, X, y, resolution=60, suptitle="xor")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_architecture():
    X, y = toy_dataset("moons", 20)
    with pytest.raises(VisionkitError):
        fit_boundary_nets(X, y, [("bad", (3, 1))], epochs=1)
    with pytest.raises(VisionkitError):
        fit_boundary_nets(X[:, :1], y, epochs=1)


def test_gallery_in_one_call():
    from visionkit.lessons import boundary_gallery

    fig = boundary_gallery("circles", n_samples=120, epochs=60, resolution=40)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [n.train_accuracy for n in fig.boundary_nets][2] >= 0.95
    assert fig.boundary_nets[0].train_accuracy < 0.8
