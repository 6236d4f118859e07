"""How the course trains: gradient descent with halving steps, the stochastic gradient, mini-batch SGD.

Gradient descent, as on the slides::

    initialise u
    loop: if ||∇J(u)|| < δ: stop
          else: initialise λ; while not J(u - λ ∇J(u)) < J(u): λ = λ / 2
                u = u - λ ∇J(u)

(:func:`gradient_descent`), applied to least squares ``J(u) = ||A u - b||²`` (:func:`least_squares`)
and checked against the closed form ``np.linalg.lstsq``.

The stochastic gradient. With ``J = sum_{k=1}^K j_k`` and ``k`` drawn uniformly in {1..K},
``E[∇j_k] = (1/K) sum_k ∇j_k = ∇J / K``: the slide's ``E[∇g] = ∇J`` holds for the *mean*
``J = (1/K) sum_k j_k``; for the *sum* the unbiased estimate of ``∇J`` is ``K ∇j_k``
(:func:`stochastic_gradient`), and for a mini-batch ``S`` of ``B`` distinct indices drawn uniformly
it is ``(K/B) sum_{k in S} ∇j_k``. :func:`expected_stochastic_gradient` computes the expectation
exactly by enumerating every outcome.

Mini-batch SGD for an MLP (:func:`train_sgd`) is the slide's loop written out: pick a batch X,
compare f(X) with y(X) through the loss, compute the gradient dw (by autograd), ``w = w - lr * dw``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from .._validate import VisionkitError, check_positive, describe

__all__ = [
    "GDResult",
    "gradient_descent",
    "least_squares",
    "per_example_gradients",
    "stochastic_gradient",
    "expected_stochastic_gradient",
    "sample_stochastic_gradients",
    "SGDHistory",
    "train_sgd",
    "plot_loss_curve",
    "LOSSES",
    "DigitsSGDResult",
    "train_mlp_on_digits",
]


# --------------------------------------------------------------------------- gradient descent


@dataclass
class GDResult:
    """Outcome of :func:`gradient_descent`.

    Attributes
    ----------
    u : ndarray, the last iterate
    n_iter : int, number of steps taken
    converged : bool, ``||∇J(u)|| < δ`` at the end
    values : list of float, ``J`` at every iterate (``n_iter + 1`` values, strictly decreasing)
    grad_norms : list of float, ``||∇J||`` at every iterate
    steps : list of float, the accepted ``λ`` of every step
    n_evals : int, evaluations of ``J`` (the halvings included)
    stop_reason : str, ``"gradient"`` (``||∇J|| < δ``), ``"max_iter"`` or ``"no_decrease"`` (no λ in
        ``max_halvings`` halvings lowered the computed ``J``: the rounding floor, where the true
        decrease ``≈ λ||∇J||²`` is below the float64 resolution of ``J``, about ``1e-16 J``)
    """

    u: np.ndarray
    n_iter: int
    converged: bool
    values: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    n_evals: int = 0
    stop_reason: str = ""


def gradient_descent(
    J: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    u0: np.ndarray,
    *,
    delta: float = 1e-6,
    lambda0: float = 1.0,
    max_iter: int = 100_000,
    max_halvings: int = 200,
) -> GDResult:
    """Gradient descent with the slides' step rule (halve λ until ``J`` decreases).

    Parameters
    ----------
    J : callable, u -> float
    grad : callable, u -> ndarray of u's shape
    u0 : ndarray, the initial point
    delta : float
        Stop when ``||∇J(u)|| < delta``.
    lambda0 : float
        The λ every step starts from.
    max_iter : int
        At most this many steps (``converged`` says whether δ was reached).
    max_halvings : int
        At most this many halvings per step; if ``J`` still has not decreased (only possible when
        rounding errors dominate, ``||∇J||`` at the floating-point floor) the descent stops there.

    Returns
    -------
    GDResult
    """
    delta = check_positive(delta, "delta")
    lambda0 = check_positive(lambda0, "lambda0")
    max_iter = check_positive(max_iter, "max_iter", integer=True, allow_zero=True)
    u = np.array(u0, dtype=np.float64, copy=True)
    ju = float(J(u))
    res = GDResult(u, 0, False, [ju], [], [], 1)
    for _ in range(max_iter + 1):
        g = np.asarray(grad(u), dtype=np.float64)
        gnorm = float(np.linalg.norm(g))
        res.grad_norms.append(gnorm)
        if gnorm < delta:
            res.converged = True
            res.stop_reason = "gradient"
            break
        if res.n_iter == max_iter:
            res.stop_reason = "max_iter"
            break
        lam = lambda0
        for _h in range(max_halvings + 1):
            cand = u - lam * g
            jc = float(J(cand))
            res.n_evals += 1
            if jc < ju:
                break
            lam /= 2
        else:
            res.stop_reason = "no_decrease"  # at the rounding floor of J
            break
        u, ju = cand, jc
        res.n_iter += 1
        res.values.append(ju)
        res.steps.append(lam)
    res.u = u
    return res


def _check_ab(A, b) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if A.ndim != 2 or b.ndim != 1 or b.shape[0] != A.shape[0]:
        raise VisionkitError(f"expected A of shape (K, P) and b of shape (K,), got {describe(A)} and {describe(b)}")
    return A, b


def least_squares(A: np.ndarray, b: np.ndarray) -> tuple[Callable, Callable]:
    """``J(u) = ||A u - b||²`` and its gradient ``∇J(u) = 2 Aᵀ(A u - b)``.

    Parameters
    ----------
    A : ndarray, shape (K, P)
    b : ndarray, shape (K,)

    Returns
    -------
    (J, grad) : two callables of u (shape (P,))
    """
    A, b = _check_ab(A, b)

    def J(u):
        r = A @ u - b
        return float(r @ r)

    def grad(u):
        return 2.0 * (A.T @ (A @ u - b))

    return J, grad


# --------------------------------------------------------------------------- stochastic gradient


def per_example_gradients(A: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The K terms' gradients for ``J = sum_k j_k``, ``j_k(u) = (a_kᵀ u - b_k)²``.

    Returns
    -------
    ndarray, shape (K, P): row k is ``∇j_k(u) = 2 (a_kᵀ u - b_k) a_k``; the rows sum to ``∇J(u)``.
    """
    A, b = _check_ab(A, b)
    u = np.asarray(u, dtype=np.float64)
    if u.shape != (A.shape[1],):
        raise VisionkitError(f"u: expected shape ({A.shape[1]},), got {describe(u)}")
    return 2.0 * (A @ u - b)[:, None] * A


def stochastic_gradient(per_grads: np.ndarray, index: np.ndarray | int) -> np.ndarray:
    """The unbiased estimate of ``∇J`` (``J = sum_k j_k``) from the terms in ``index``.

    ``(K / B) sum_{k in index} ∇j_k`` with ``B = len(index)``: ``K ∇j_k`` for one index. This is the
    slide's ``∇g`` times K, because the slide's identity ``E[∇j_k] = ∇J`` needs ``J`` to be a mean.

    Parameters
    ----------
    per_grads : ndarray, shape (K, P)
    index : int or int array of distinct indices, shape (B,)
    """
    per_grads = np.asarray(per_grads, dtype=np.float64)
    idx = np.atleast_1d(np.asarray(index))
    K = per_grads.shape[0]
    if per_grads.ndim != 2 or idx.ndim != 1 or len(idx) == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise VisionkitError(f"expected per_grads (K, P) and a non-empty int index, got {describe(per_grads)} and {describe(idx)}")
    if idx.min() < 0 or idx.max() >= K or len(np.unique(idx)) != len(idx):
        raise VisionkitError(f"index: expected distinct indices in 0 .. {K - 1}, got {idx.tolist()}")
    return (K / len(idx)) * per_grads[idx].sum(axis=0)


def expected_stochastic_gradient(per_grads: np.ndarray, batch_size: int = 1, *, scaled: bool = True) -> np.ndarray:
    """``E[stochastic gradient]`` computed exactly, by enumerating every equally likely batch.

    Parameters
    ----------
    per_grads : ndarray, shape (K, P)
    batch_size : int
        ``B``: batches are the ``C(K, B)`` subsets of B distinct indices, all equally likely.
    scaled : bool
        With True the estimate is ``(K/B) sum_{k in S} ∇j_k`` (expectation ``∇J``); with False it
        is the slide's plain ``(1/B) sum_{k in S} ∇j_k`` (expectation ``∇J / K``).

    Returns
    -------
    ndarray, shape (P,)
    """
    per_grads = np.asarray(per_grads, dtype=np.float64)
    K = per_grads.shape[0]
    batch_size = check_positive(batch_size, "batch_size", integer=True)
    if batch_size > K:
        raise VisionkitError(f"batch_size: expected at most K = {K}, got {batch_size}")
    total = np.zeros(per_grads.shape[1])
    count = 0
    for S in itertools.combinations(range(K), batch_size):
        est = stochastic_gradient(per_grads, np.array(S))
        total += est if scaled else est / K
        count += 1
    return total / count


def sample_stochastic_gradients(per_grads: np.ndarray, n_samples: int, *, batch_size: int = 1,
                                generator: np.random.Generator | int | None = None) -> np.ndarray:
    """Draw ``n_samples`` stochastic gradients ``(K/B) sum_{k in S} ∇j_k``, S uniform without replacement.

    Returns
    -------
    ndarray, shape (n_samples, P)
    """
    per_grads = np.asarray(per_grads, dtype=np.float64)
    K = per_grads.shape[0]
    rng = np.random.default_rng(generator)
    n_samples = check_positive(n_samples, "n_samples", integer=True)
    if batch_size == 1:
        ks = rng.integers(0, K, size=n_samples)
        return K * per_grads[ks]
    return np.stack([stochastic_gradient(per_grads, rng.choice(K, size=batch_size, replace=False))
                     for _ in range(n_samples)])


# --------------------------------------------------------------------------- mini-batch SGD for an MLP


def _logistic(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # labels in {-1, 1}, one output: log(1 + exp(-y f(x)))
    return nn.functional.softplus(-y * out.squeeze(1)).mean()


def _mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((out.squeeze(1) if out.shape[1] == 1 and y.ndim == 1 else out) - y).pow(2).mean()


def _cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(out, y.long())


#: The losses :func:`train_sgd` knows: ``logistic`` (labels ±1, one output), ``mse``, ``cross_entropy`` (int labels).
LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "logistic": _logistic,
    "mse": _mse,
    "cross_entropy": _cross_entropy,
}


@dataclass
class SGDHistory:
    """Loss curve of :func:`train_sgd`.

    Attributes
    ----------
    batch_losses : list of float, the loss of every mini-batch, before its step
    epoch_losses : list of float, the loss on the whole training set, before training and after each epoch
    """

    batch_losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)


def train_sgd(
    net: nn.Module,
    X: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    loss: str = "logistic",
    lr: float = 0.1,
    batch_size: int = 32,
    epochs: int = 10,
    generator: torch.Generator | None = None,
) -> SGDHistory:
    """Mini-batch SGD, the slide's loop: batch X, loss of (f(X), y(X)), gradient dw, ``w = w - lr * dw``.

    The net is trained in place. Each epoch visits the data in a new random order.

    Parameters
    ----------
    net : nn.Module, maps (N, D) to (N, C)
    X : array (N, D)
    y : array (N,), labels in {-1, 1} (``logistic``), targets (``mse``) or ints (``cross_entropy``)
    loss : {"logistic", "mse", "cross_entropy"}
    lr, batch_size, epochs : the SGD settings
    generator : torch.Generator, optional; seeded with 0 when omitted

    Returns
    -------
    SGDHistory
    """
    if loss not in LOSSES:
        raise VisionkitError(f"loss: expected one of {sorted(LOSSES)}, got {loss!r}")
    lr = check_positive(lr, "lr")
    batch_size = check_positive(batch_size, "batch_size", integer=True)
    epochs = check_positive(epochs, "epochs", integer=True, allow_zero=True)
    param = next(net.parameters())
    X = torch.as_tensor(np.asarray(X) if not torch.is_tensor(X) else X, dtype=param.dtype)
    y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y)
    y = y.long() if loss == "cross_entropy" else y.to(param.dtype)
    if X.ndim != 2 or len(y) != len(X):
        raise VisionkitError(f"expected X of shape (N, D) and y of shape (N,), got {describe(X)} and {describe(y)}")
    if loss == "logistic" and not bool(torch.all((y == 1) | (y == -1))):
        raise VisionkitError(f"y: the logistic loss expects labels in {{-1, 1}}, got values {torch.unique(y)[:10].tolist()}")
    loss_fn = LOSSES[loss]
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    params = [p for p in net.parameters() if p.requires_grad]
    hist = SGDHistory()

    def full_loss() -> float:
        with torch.no_grad():
            return float(loss_fn(net(X), y))

    hist.epoch_losses.append(full_loss())
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            value = loss_fn(net(X[idx]), y[idx])
            grads = torch.autograd.grad(value, params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(lr * g)
            hist.batch_losses.append(float(value.detach()))
        hist.epoch_losses.append(full_loss())
        if not math.isfinite(hist.epoch_losses[-1]):
            raise VisionkitError(f"SGD diverged (loss {hist.epoch_losses[-1]}) with lr={lr}; use a smaller lr")
    return hist


def plot_loss_curve(history: SGDHistory, *, title: str = "mini-batch SGD"):
    """A matplotlib Figure of the batch losses and the per-epoch training loss (log scale)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    nb = len(history.batch_losses)
    ne = len(history.epoch_losses) - 1
    ax.plot(np.arange(1, nb + 1), history.batch_losses, lw=0.6, alpha=0.6, label="mini-batch loss")
    if ne > 0:
        per = nb / ne
        ax.plot(np.arange(ne + 1) * per, history.epoch_losses, "o-", ms=3, label="training-set loss (per epoch)")
    ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    return fig


@dataclass
class DigitsSGDResult:
    """An MLP trained by :func:`train_sgd` on the digits, with its loss curve and accuracies."""

    net: nn.Module
    history: SGDHistory
    train_accuracy: float
    test_accuracy: float


def train_mlp_on_digits(hidden: tuple[int, ...] = (32,), *, n_train: int = 1200, epochs: int = 20,
                        lr: float = 0.3, batch_size: int = 32, random_state: int = 0) -> DigitsSGDResult:
    """Train ``mlp([64, *hidden, 10])`` on scikit-learn's digits with mini-batch SGD and cross-entropy.

    Pixels are scaled to [0, 1]; ``n_train`` random digits train, the others test.
    """
    from ..data import load_digits
    from .mlp import mlp

    ds = load_digits()
    X = ds.images.reshape(len(ds), -1).astype(np.float32) / 255.0
    y = ds.labels
    if not 0 < n_train < len(X):
        raise VisionkitError(f"n_train: expected 1 .. {len(X) - 1}, got {n_train}")
    perm = np.random.default_rng(random_state).permutation(len(X))
    tr, te = perm[:n_train], perm[n_train:]
    g = torch.Generator().manual_seed(random_state)
    net = mlp([64, *hidden, 10], generator=g)
    hist = train_sgd(net, X[tr], y[tr], loss="cross_entropy", lr=lr, batch_size=batch_size, epochs=epochs, generator=g)
    with torch.no_grad():
        pred = net(torch.from_numpy(X)).argmax(1).numpy()
    return DigitsSGDResult(net, hist, float(np.mean(pred[tr] == y[tr])), float(np.mean(pred[te] == y[te])))
