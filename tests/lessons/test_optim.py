"""Gradient descent with halving steps, the unbiased stochastic gradient, mini-batch SGD for an MLP."""

import itertools

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from visionkit import VisionkitError
from visionkit.lessons import (
    expected_stochastic_gradient,
    gradient_descent,
    least_squares,
    mlp,
    per_example_gradients,
    plot_loss_curve,
    sample_stochastic_gradients,
    stochastic_gradient,
    train_mlp_on_digits,
    train_sgd,
)


def _problem(K=50, P=10, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(K, P))
    b = A @ rng.normal(size=P) + noise * rng.normal(size=K)
    return A, b


# --------------------------------------------------------------------------- gradient descent


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gd_matches_closed_form_within_the_stopping_bound(seed):
    A, b = _problem(seed=seed)
    J, grad = least_squares(A, b)
    delta = 1e-6
    res = gradient_descent(J, grad, np.zeros(A.shape[1]), delta=delta)
    assert res.converged and res.stop_reason == "gradient" and res.grad_norms[-1] < delta
    u_star = np.linalg.lstsq(A, b, rcond=None)[0]
    s_min = np.linalg.svd(A, compute_uv=False)[-1]
    # ∇J = 2 AᵀA (u - u*), so ||∇J|| < δ gives ||u - u*|| < δ / (2 σ_min²) and J(u) - J(u*) < δ² / (4 σ_min²)
    assert np.linalg.norm(res.u - u_star) < delta / (2 * s_min**2)
    assert J(res.u) - J(u_star) < delta**2 / (4 * s_min**2) + 1e-12 * J(u_star)
    assert res.n_iter > 5  # it took real steps


def test_gd_values_strictly_decrease_and_steps_are_the_first_halving_that_works():
    A, b = _problem(30, 6, seed=3)
    J, grad = least_squares(A, b)
    lam0 = 1.0
    res = gradient_descent(J, grad, np.zeros(6), lambda0=lam0)
    assert np.all(np.diff(res.values) < 0)
    assert len(res.values) == res.n_iter + 1 == len(res.steps) + 1
    # replay: each accepted λ is lam0 / 2^k, decreases J, and 2λ (the previous try) did not
    u = np.zeros(6)
    for lam in res.steps:
        k = np.log2(lam0 / lam)
        assert k == round(k)
        g = grad(u)
        assert J(u - lam * g) < J(u)
        if lam < lam0:
            assert not J(u - 2 * lam * g) < J(u)
        u = u - lam * g
    np.testing.assert_array_equal(u, res.u)


def test_gd_from_zero_finds_the_min_norm_solution_of_an_underdetermined_system():
    # K < P: infinitely many minimisers; started at 0, GD stays in the row space of A: the min-norm one
    A, b = _problem(8, 20, noise=0.0, seed=4)
    J, grad = least_squares(A, b)
    res = gradient_descent(J, grad, np.zeros(20), delta=1e-9)
    np.testing.assert_allclose(res.u, np.linalg.lstsq(A, b, rcond=None)[0], atol=1e-8)
    np.testing.assert_allclose(res.u, np.linalg.pinv(A) @ b, atol=1e-8)


def test_gd_stops_at_once_on_a_stationary_point_and_honours_max_iter():
    A, b = _problem(seed=5)
    J, grad = least_squares(A, b)
    u_star = np.linalg.lstsq(A, b, rcond=None)[0]
    res = gradient_descent(J, grad, u_star, delta=1e-6)
    assert res.n_iter == 0 and res.converged
    res = gradient_descent(J, grad, np.zeros(10), max_iter=3)
    assert res.n_iter == 3 and not res.converged and res.stop_reason == "max_iter"


def test_gd_on_a_non_quadratic_function():
    # J(u) = sum log(cosh(u - a)) + ||u||²/2: strictly convex, minimiser solves tanh(u - a) + u = 0
    a = np.array([2.0, -1.0, 0.5])
    J = lambda u: float(np.sum(np.log(np.cosh(u - a))) + 0.5 * u @ u)
    grad = lambda u: np.tanh(u - a) + u
    res = gradient_descent(J, grad, np.zeros(3), delta=1e-7)
    assert res.converged
    np.testing.assert_allclose(np.tanh(res.u - a) + res.u, 0, atol=1e-7)
    # the root found independently, coordinate by coordinate, by bisection
    for ui, ai in zip(res.u, a):
        lo, hi = -5.0, 5.0
        for _ in range(80):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.tanh(mid - ai) + mid < 0 else (lo, mid)
        assert abs(ui - lo) < 1e-7  # the derivative 1 + sech² >= 1 turns a gradient < δ into an error < δ


def test_gd_reports_the_rounding_floor():
    # with δ far below what float64 can resolve of J's decrease, halving never lowers J: stop, say why
    A, b = _problem(50, 10, noise=1.0, seed=8)
    J, grad = least_squares(A, b)
    res = gradient_descent(J, grad, np.zeros(10), delta=1e-14)
    assert not res.converged and res.stop_reason == "no_decrease"
    assert np.linalg.norm(res.u - np.linalg.lstsq(A, b, rcond=None)[0]) < 1e-6


def test_least_squares_gradient_is_the_derivative():
    A, b = _problem(seed=6)
    J, grad = least_squares(A, b)
    u = np.random.default_rng(0).normal(size=10)
    eps = 1e-6
    num = np.array([(J(u + eps * e) - J(u - eps * e)) / (2 * eps) for e in np.eye(10)])
    np.testing.assert_allclose(grad(u), num, rtol=1e-6)
    with pytest.raises(VisionkitError):
        least_squares(A, b[:-1])


# --------------------------------------------------------------------------- stochastic gradient


@pytest.fixture()
def terms():
    A, b = _problem(8, 3, noise=0.5, seed=7)
    u = np.random.default_rng(1).normal(size=3)
    J, grad = least_squares(A, b)
    return per_example_gradients(A, b, u), grad(u)


def test_terms_sum_to_the_full_gradient(terms):
    per, full = terms
    np.testing.assert_allclose(per.sum(0), full, rtol=1e-12)


def test_unbiased_exactly_by_enumeration(terms):
    per, full = terms
    K = len(per)
    # J = Σ_k j_k: E_k[K ∇j_k] = ∇J, for single terms and for every batch size (all C(K, B) batches)
    for B in range(1, K + 1):
        np.testing.assert_allclose(expected_stochastic_gradient(per, B), full, rtol=1e-12, atol=1e-12)
    # the slide's plain ∇j_k is unbiased for ∇(J/K), the mean, not for the sum ∇J
    np.testing.assert_allclose(expected_stochastic_gradient(per, 1, scaled=False), full / K, rtol=1e-12)
    assert np.linalg.norm(expected_stochastic_gradient(per, 1, scaled=False) - full) > 0.5 * np.linalg.norm(full)
    # one draw: index k -> K ∇j_k
    np.testing.assert_allclose(stochastic_gradient(per, 3), K * per[3])


def test_unbiased_statistically_by_sampling(terms):
    per, full = terms
    K = len(per)
    n = 20000
    for B in (1, 3):
        samples = sample_stochastic_gradients(per, n, batch_size=B, generator=np.random.default_rng(0))
        se = samples.std(0, ddof=1) / np.sqrt(n)
        z = (samples.mean(0) - full) / se
        assert np.all(np.abs(z) < 4.5), z  # each coordinate within 4.5 standard errors of ∇J
        # the unscaled average (1/B) Σ ∇j_k is off by the factor K: many standard errors away
        z_plain = (samples.mean(0) / K - full) / (se / K)
        assert np.max(np.abs(z_plain)) > 20


def test_batch_variance_formula_by_enumeration(terms):
    # sampling B of K without replacement: Cov = K² / B · (K - B) / (K - 1) · S, S the covariance of the ∇j_k
    per, _ = terms
    K = len(per)
    S = np.cov(per.T, bias=True)
    for B in (1, 2, 4, K):
        ests = np.array([stochastic_gradient(per, np.array(c)) for c in itertools.combinations(range(K), B)])
        cov = np.cov(ests.T, bias=True)
        np.testing.assert_allclose(cov, K**2 / B * (K - B) / (K - 1) * S, rtol=1e-9, atol=1e-9)


def test_sampling_is_seeded(terms):
    per, _ = terms
    a = sample_stochastic_gradients(per, 10, generator=np.random.default_rng(3))
    b = sample_stochastic_gradients(per, 10, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(VisionkitError):
        expected_stochastic_gradient(per, len(per) + 1)
    with pytest.raises(VisionkitError, match="distinct"):
        stochastic_gradient(per, np.array([1, 1]))
    with pytest.raises(VisionkitError):
        stochastic_gradient(per, len(per))


# --------------------------------------------------------------------------- SGD for an MLP


def test_one_full_batch_step_is_w_minus_lr_dw():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3)).astype(np.float32)
    y = rng.choice([-1.0, 1.0], size=12).astype(np.float32)
    net = mlp([3, 5, 1], generator=torch.Generator().manual_seed(1))
    before = [p.detach().clone() for p in net.parameters()]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    loss = torch.nn.functional.softplus(-yt * net(Xt).squeeze(1)).mean()
    grads = torch.autograd.grad(loss, list(net.parameters()))
    hist = train_sgd(net, X, y, loss="logistic", lr=0.3, batch_size=12, epochs=1)
    for p, p0, g in zip(net.parameters(), before, grads):
        torch.testing.assert_close(p.detach(), p0 - 0.3 * g)
    assert hist.batch_losses[0] == pytest.approx(float(loss.detach()))
    assert len(hist.epoch_losses) == 2 and hist.epoch_losses[0] == pytest.approx(float(loss.detach()))


def test_minibatch_sgd_trains_an_mlp_on_digits():
    res = train_mlp_on_digits((32,), n_train=600, epochs=10, lr=0.3, random_state=0)
    h = res.history
    assert len(h.batch_losses) == 10 * int(np.ceil(600 / 32)) and len(h.epoch_losses) == 11
    assert h.epoch_losses[0] > 2.0  # about log(10) at the start
    assert h.epoch_losses[-1] < 0.2 * h.epoch_losses[0]
    assert res.train_accuracy > 0.95 and res.test_accuracy > 0.9
    fig = plot_loss_curve(h)
    assert isinstance(fig, Figure)
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_data()[1], h.batch_losses)


def test_sgd_is_seeded_and_checks_inputs():
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = np.where(X[:, 0] > 0, 1, -1)
    runs = []
    for _ in range(2):
        net = mlp([2, 4, 1], generator=torch.Generator().manual_seed(0))
        runs.append(train_sgd(net, X, y, epochs=3, batch_size=5, generator=torch.Generator().manual_seed(9)).batch_losses)
    assert runs[0] == runs[1]
    net = mlp([2, 1])
    with pytest.raises(VisionkitError):
        train_sgd(net, X, y, loss="hinge")
    with pytest.raises(VisionkitError):
        train_sgd(net, X, y[:5])
    with pytest.raises(VisionkitError, match="-1, 1"):
        train_sgd(net, X, (y > 0).astype(int))
    with pytest.raises(VisionkitError, match="diverged"):
        train_sgd(mlp([2, 64, 64, 1]), X * 1e3, y * 1e3, loss="mse", lr=10.0, epochs=5)
