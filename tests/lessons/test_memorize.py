"""The memorising network: y_n f(x_n) > 0 for every training point, f = 0 everywhere else on Z^D."""

import numpy as np
import pytest
import torch

from visionkit import VisionkitError
from visionkit.lessons import (
    MLP,
    block_sum_matrix,
    compare_memorizing_and_trained,
    digits_binary,
    memorizing_network,
    memorizing_parameters,
    mlp_parameter_count,
    predict_sign,
)


def _random_points(n, d, seed):
    rng = np.random.default_rng(seed)
    X = np.unique(rng.integers(-3, 4, size=(3 * n, d)), axis=0)
    X = X[rng.permutation(len(X))[:n]]
    return X, rng.choice([-1, 1], size=len(X))


def test_block_matrix_is_the_slides_W():
    N, D = 3, 2
    W = block_sum_matrix(N, D)
    assert W.shape == (N, N * 2 * D)
    for n in range(N):
        for i in range(N * 2 * D):
            assert W[n, i] == (1.0 if 2 * n * D <= i < 2 * n * D + 2 * D else 0.0)
    # each column belongs to exactly one block
    np.testing.assert_array_equal(W.sum(0), np.ones(N * 2 * D))
    np.testing.assert_array_equal(W.sum(1), np.full(N, 2 * D))


def test_parameters_have_the_family_shapes():
    X, y = _random_points(7, 4, 0)
    ws, bs = memorizing_parameters(X, y)
    N, D = X.shape
    assert [w.shape for w in ws] == [(2 * N * D, D), (N, 2 * N * D), (1, N)]
    assert [b.shape for b in bs] == [(2 * N * D,), (N,), (1,)]
    net = memorizing_network(X, y)
    assert isinstance(net, MLP) and net.dims == (D, 2 * N * D, N, 1)
    assert sum(p.numel() for p in net.parameters()) == mlp_parameter_count([D, 2 * N * D, N, 1])


def test_first_two_layers_compute_l1_distances():
    # unit n of the second layer is relu(1 - ||x - x_n||_1), unit block n of the first sums to ||x - x_n||_1
    X, y = _random_points(6, 3, 1)
    net = memorizing_network(X, y)
    x = np.random.default_rng(2).normal(scale=2, size=(20, 3))
    with torch.no_grad():
        h1 = torch.relu(net.layers[0](torch.from_numpy(x))).numpy()
        h2 = torch.relu(net.layers[1](torch.from_numpy(h1))).numpy()
    dist = np.abs(x[:, None, :] - X[None, :, :]).sum(-1)  # (20, N)
    np.testing.assert_allclose(h1 @ block_sum_matrix(*X.shape).T, dist, atol=1e-12)
    np.testing.assert_allclose(h2, np.maximum(1 - dist, 0), atol=1e-12)


@pytest.mark.parametrize("seed,n,d", [(0, 20, 3), (1, 50, 5), (2, 200, 2), (3, 1, 1)])
def test_memorises_random_integer_points(seed, n, d):
    X, y = _random_points(n, d, seed)
    net = memorizing_network(X, y)
    with torch.no_grad():
        f = net(torch.as_tensor(X, dtype=torch.float64)).squeeze(1).numpy()
    assert np.all(y * f > 0)
    np.testing.assert_array_equal(f, y)  # distinct integer points: exactly f(x_n) = y_n


def test_zero_on_every_other_integer_point():
    X, y = _random_points(30, 3, 4)
    net = memorizing_network(X, y)
    # every point of the cube {-4..4}^3 that is not a training point
    grid = np.stack(np.meshgrid(*[np.arange(-4, 5)] * 3, indexing="ij"), -1).reshape(-1, 3)
    train = {tuple(p) for p in X}
    off = np.array([p for p in grid if tuple(p) not in train])
    assert len(off) == 9**3 - 30
    assert np.all(predict_sign(net, off) == 0)


def test_memorises_digits_and_generalises_badly_next_to_sgd():
    X, y = digits_binary(positive=(3,), negative=(8,))
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(X))
    tr, te = perm[:60], perm[60:]
    # pixel values 0..16: already points of Z^64
    assert X.dtype == np.int64 and X.shape[1] == 64 and X.min() >= 0 and X.max() <= 16
    res = compare_memorizing_and_trained(X[tr], y[tr], X[te], y[te], epochs=20,
                                         generator=torch.Generator().manual_seed(0))
    assert res.dims == (64, 2 * 60 * 64, 60, 1)
    assert res.memorize_train_acc == 1.0
    # off the training points the memorising net says 0: no answer at all, chance level with a default
    assert res.memorize_test_zero_rate > 0.95
    assert res.memorize_test_acc < 0.05
    assert abs(res.memorize_test_acc_majority - max(np.mean(y[te] == 1), np.mean(y[te] == -1))) < 0.05
    # the same family trained by SGD fits the training set and generalises
    assert res.trained_train_acc >= 0.95
    assert res.trained_test_acc >= 0.9
    assert res.trained_test_acc > res.memorize_test_acc + 0.85
    assert res.loss_curve[-1] < 0.5 * res.loss_curve[0]


def test_digits_odd_vs_even_memorised():
    X, y = digits_binary()
    assert len(X) == 1797 and set(np.unique(y)) == {-1, 1}
    Xs, ys = X[:150], y[:150]
    net = memorizing_network(Xs, ys)
    assert np.all(predict_sign(net, Xs) == ys)


def test_rejects_what_the_construction_cannot_do():
    with pytest.raises(VisionkitError, match="integer"):
        memorizing_parameters(np.array([[0.5, 1.0]]), np.array([1]))
    with pytest.raises(VisionkitError, match="both labels"):
        memorizing_parameters(np.array([[1, 2], [1, 2]]), np.array([1, -1]))
    with pytest.raises(VisionkitError, match="-1, 1"):
        memorizing_parameters(np.array([[1, 2]]), np.array([0]))
    with pytest.raises(VisionkitError):
        memorizing_parameters(np.zeros(3), np.zeros(3))
    # the same point twice with the same label is fine: f(x_n) = 2 y_n
    net = memorizing_network(np.array([[1, 2], [1, 2]]), np.array([-1, -1]))
    assert net(torch.tensor([[1.0, 2.0]], dtype=torch.float64)).item() == -2.0


def test_profile_figure():
    from matplotlib.figure import Figure

    from visionkit.lessons import plot_memorize_profile

    X, y = _random_points(5, 2, 7)
    net = memorizing_network(X, y)
    fig = plot_memorize_profile({"memorising": net}, X[0], X[1], n_steps=41)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    # the zoom panel's curve is the triangle y_0 relu(1 - |s|) sampled at s in [-2, 2]
    s, f = fig.axes[1].lines[0].get_data()
    np.testing.assert_allclose(f, y[0] * np.maximum(1 - np.abs(s), 0), atol=1e-9)
    with pytest.raises(VisionkitError):
        plot_memorize_profile({"m": net}, X[0], X[0])
