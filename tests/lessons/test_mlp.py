"""The MLP family: the module is the slides' formula, with the formula's parameter count."""

import numpy as np
import pytest
import torch

from visionkit import VisionkitError
from visionkit.lessons import MLP, mlp, mlp_formula, mlp_parameter_count, relu


@pytest.mark.parametrize("dims", [[2, 1], [2, 4, 1], [3, 2, 3, 1], [784, 100, 10], [64, 1280, 20, 1], [5, 7, 7, 7, 2]])
def test_parameter_count_matches_formula(dims):
    net = mlp(dims)
    expected = sum(dims[q] * (dims[q - 1] + 1) for q in range(1, len(dims)))
    assert mlp_parameter_count(dims) == expected
    assert sum(p.numel() for p in net.parameters()) == expected
    # the Q layers have the slide's shapes A_q (i_q, i_{q-1}), b_q (i_q,)
    assert [tuple(lay.weight.shape) for lay in net.layers] == [(dims[q], dims[q - 1]) for q in range(1, len(dims))]
    assert [tuple(lay.bias.shape) for lay in net.layers] == [(dims[q],) for q in range(1, len(dims))]


def test_known_counts():
    # one neuron on R^D: D weights + 1 bias; the slides' 2 -> 3 -> 1 example on R^2
    assert mlp_parameter_count([2, 1]) == 3
    assert mlp_parameter_count([2, 2, 3, 1]) == 2 * 3 + 3 * 3 + 1 * 4


@pytest.mark.parametrize("dims", [[3, 1], [3, 5, 2], [4, 6, 5, 3, 1]])
def test_module_equals_slide_formula(dims):
    net = mlp(dims, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    x = np.random.default_rng(0).normal(size=(11, dims[0]))
    ws, bs = zip(*net.parameters_list)
    out = net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, mlp_formula(x, ws, bs), rtol=1e-12, atol=1e-12)


def test_no_activation_after_last_layer():
    # a family with one layer is affine: it can output negative values and is exactly A x + b
    net = mlp([2, 1], dtype=torch.float64).set_parameters([np.array([[1.0, -2.0]])], [np.array([-5.0])])
    x = torch.tensor([[0.0, 0.0], [1.0, 3.0]], dtype=torch.float64)
    np.testing.assert_array_equal(net(x).detach().numpy().ravel(), [-5.0, -10.0])


def test_one_neuron_is_affine_four_relu_neurons_are_not():
    rng = np.random.default_rng(1)
    x, z = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    t = 0.3
    for seed in range(5):
        one = mlp([2, 1], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        f = lambda a: one(torch.from_numpy(a)).detach().numpy()
        np.testing.assert_allclose(f(t * x + (1 - t) * z), t * f(x) + (1 - t) * f(z), atol=1e-12)
    # |x| = relu(x) + relu(-x): a member of [1, 2, 1], not affine
    absnet = mlp([1, 2, 1], dtype=torch.float64).set_parameters(
        [np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])], [np.zeros(2), np.zeros(1)])
    xs = torch.linspace(-3, 3, 61, dtype=torch.float64)[:, None]
    np.testing.assert_allclose(absnet(xs).detach().numpy(), xs.abs().numpy(), atol=1e-15)


def test_activation_is_a_choice():
    net = mlp([3, 4, 2], activation=torch.tanh, dtype=torch.float64)
    x = np.random.default_rng(2).normal(size=(6, 3))
    ws, bs = zip(*net.parameters_list)
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(), mlp_formula(x, ws, bs, np.tanh), rtol=1e-12)


def test_same_generator_same_net_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = mlp([4, 8, 1], generator=torch.Generator().manual_seed(7))
    after = torch.rand(3)
    assert torch.equal(before, after)  # building a net does not draw from torch's global RNG
    b = mlp([4, 8, 1], generator=torch.Generator().manual_seed(7))
    c = mlp([4, 8, 1], generator=torch.Generator().manual_seed(8))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    # PyTorch's default scale: |A_q| <= 1/sqrt(i_{q-1})
    assert a.layers[0].weight.abs().max() <= 0.5 and a.layers[1].weight.abs().max() <= 8 ** -0.5


def test_relu():
    np.testing.assert_array_equal(relu(torch.tensor([-2.0, 0.0, 3.0])).numpy(), [0.0, 0.0, 3.0])


@pytest.mark.parametrize("bad", [[3], [], [3, 0, 1], [3.0, 2], "ab", 5, [2, True]])
def test_bad_dims(bad):
    with pytest.raises(VisionkitError):
        mlp(bad)


def test_bad_inputs():
    net = mlp([3, 2, 1])
    with pytest.raises(VisionkitError, match=r"\(N, 3\)"):
        net(torch.zeros(4, 2))
    with pytest.raises(VisionkitError, match="A_1"):
        net.set_parameters([np.zeros((3, 3)), np.zeros((1, 2))], [np.zeros(2), np.zeros(1)])
    with pytest.raises(VisionkitError):
        MLP([3, 1], activation="relu")
