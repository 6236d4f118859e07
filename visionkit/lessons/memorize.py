"""The memorising network of the slides: "Avec 100 neurones, on peut faire ça ... Sauf que c'est la pire chose possible".

For points ``x_1..x_N`` in Z^D and labels ``y_n`` in {-1, 1}, the slides build, with ReLU only,

    f(x) = yᵀ [ 1 - W [ Ix - x_1 ; -Ix + x_1 ; ... ; Ix - x_N ; -Ix + x_N ]_+ ]_+

where ``[.]_+ = relu`` and ``W`` in R^{N x (N·2D)} sums each block of 2D units
(``W_{n,i} = 1`` iff ``2nD <= i < 2nD + 2D``, indices from 0). The inner bracket gives
``||x - x_n||_1 = 1ᵀ(relu(Ix - x_n) + relu(-Ix + x_n))``, so unit ``n`` of the second layer is
``relu(1 - ||x - x_n||_1)``: 1 at ``x_n`` and 0 at every other point of Z^D (two distinct integer
points are at L1 distance >= 1). Hence ``f(x_n) = y_n`` (``y_n f(x_n) > 0``): every training point is
classified right, and ``f = 0`` at every integer point that is not a training point — no
generalisation at all.

It is a member of the MLP family ``[D, 2ND, N, 1]``:
``A_1 = [I; -I; I; -I; ...]``, ``b_1 = [-x_1; x_1; ...]``, ``A_2 = -W``, ``b_2 = 1``, ``A_3 = yᵀ``, ``b_3 = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .._validate import VisionkitError, describe
from .mlp import MLP, mlp
from .optim import train_sgd

__all__ = [
    "block_sum_matrix",
    "memorizing_parameters",
    "memorizing_network",
    "predict_sign",
    "MemorizeComparison",
    "compare_memorizing_and_trained",
    "digits_binary",
    "plot_memorize_profile",
]


def block_sum_matrix(n_points: int, dim: int) -> np.ndarray:
    """The slides' ``W`` in R^{N x (N·2D)}: ``W[n, i] = 1`` iff ``2nD <= i < 2nD + 2D`` (0-based n, i).

    (The slide writes n from 1 with the same inequality; with 0-based indices the blocks tile
    ``0 .. 2ND - 1`` exactly, which is what the construction needs.)
    """
    if n_points < 1 or dim < 1:
        raise VisionkitError(f"expected N >= 1 points of dimension D >= 1, got N={n_points}, D={dim}")
    i = np.arange(n_points * 2 * dim)
    n = np.arange(n_points)[:, None]
    return ((2 * n * dim <= i) & (i < 2 * n * dim + 2 * dim)).astype(np.float64)


def _check_points(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or len(X) == 0:
        raise VisionkitError(f"expected points X of shape (N, D) and labels y of shape (N,), got {describe(X)} and {describe(y)}")
    Xf = X.astype(np.float64)
    if not np.all(np.isfinite(Xf)) or not np.array_equal(Xf, np.round(Xf)):
        raise VisionkitError("X: the construction needs points in Z^D (integer coordinates), got non-integer values; "
                             "two real points closer than 1 in L1 distance would both light the same unit")
    if not np.all(np.isin(y, (-1, 1))):
        raise VisionkitError(f"y: expected labels in {{-1, 1}}, got values {np.unique(y)[:10].tolist()}")
    # equal points with opposite labels cannot both be satisfied
    _, inv = np.unique(Xf, axis=0, return_inverse=True)
    inv = inv.ravel()
    pos = np.zeros(inv.max() + 1, dtype=bool)
    neg = np.zeros(inv.max() + 1, dtype=bool)
    pos[inv[y == 1]] = True
    neg[inv[y == -1]] = True
    if np.any(pos & neg):
        raise VisionkitError("X, y: the same point appears with both labels -1 and 1; no function can satisfy y_n f(x_n) > 0 for both")
    return Xf, y.astype(np.float64)


def memorizing_parameters(X: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The slides' weights ``(A_1, A_2, A_3), (b_1, b_2, b_3)`` for the family ``[D, 2ND, N, 1]``.

    Parameters
    ----------
    X : array, shape (N, D), integer values (any dtype)
    y : array, shape (N,), values in {-1, 1}

    Returns
    -------
    weights : [A_1 (2ND, D), A_2 (N, 2ND), A_3 (1, N)]
    biases : [b_1 (2ND,), b_2 (N,), b_3 (1,)]
    """
    X, y = _check_points(X, y)
    N, D = X.shape
    eye = np.eye(D)
    A1 = np.tile(np.vstack([eye, -eye]), (N, 1))  # block n: rows 2nD..2nD+D-1 give Ix, the next D give -Ix
    b1 = np.concatenate([X, -X], axis=1).reshape(-1) * -1.0  # [-x_n ; +x_n] per block
    A2 = -block_sum_matrix(N, D)
    b2 = np.ones(N)
    A3 = y[None, :]
    b3 = np.zeros(1)
    return [A1, A2, A3], [b1, b2, b3]


def memorizing_network(X: np.ndarray, y: np.ndarray, *, dtype: torch.dtype = torch.float64) -> MLP:
    """The memorising network as a member of ``mlp([D, 2ND, N, 1])`` (ReLU), weights set from the slides.

    float64 by default so that the integer arithmetic is exact for pixel-sized values.
    """
    weights, biases = memorizing_parameters(X, y)
    N, D = np.asarray(X).shape
    net = mlp([D, 2 * N * D, N, 1], dtype=dtype)
    return net.set_parameters(weights, biases)


@torch.no_grad()
def predict_sign(net: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    """``sign(f(x))`` for every row of X: -1, 0 or 1 (0 means the net gives no answer)."""
    dtype = next(net.parameters()).dtype
    out = net(torch.as_tensor(np.asarray(X, dtype=np.float64), dtype=dtype)).squeeze(1).numpy()
    return np.sign(out).astype(np.int64)


def digits_binary(positive=(1, 3, 5, 7, 9), negative=(0, 2, 4, 6, 8)) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as points of Z^64 (pixel values 0..16) with labels ±1.

    Parameters
    ----------
    positive, negative : sequences of digit classes labelled +1 and -1 (default: odd vs even)

    Returns
    -------
    X : int64 array (M, 64), y : int64 array (M,) in {-1, 1}
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    # sklearn's raw 0..16 integer grey levels; visionkit.data.load_digits rescales to 0..255
    X = d.data.astype(np.int64)
    keep = np.isin(d.target, positive) | np.isin(d.target, negative)
    y = np.where(np.isin(d.target, positive), 1, -1)
    return X[keep], y[keep].astype(np.int64)


@dataclass
class MemorizeComparison:
    """Train and test accuracies of the memorising network and of an SGD-trained net of the same family.

    Accuracies count ``sign(f(x)) == y``; an output of exactly 0 is no answer and counts as wrong.
    ``nets`` holds both networks. ``*_zero_rate`` is the fraction of points where ``f(x) == 0``. ``memorize_test_acc_majority``
    answers the training set's majority label where the memorising net says 0: the chance level.
    """

    dims: tuple[int, ...]
    n_parameters: int
    n_train: int
    n_test: int
    memorize_train_acc: float
    memorize_test_acc: float
    memorize_test_zero_rate: float
    memorize_test_acc_majority: float
    trained_train_acc: float
    trained_test_acc: float
    trained_test_zero_rate: float
    loss_curve: list[float]
    nets: dict = field(default_factory=dict, repr=False)  # "memorising", "trained by SGD"


def compare_memorizing_and_trained(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    epochs: int = 30,
    lr: float = 0.05,
    batch_size: int = 16,
    scale: float = 16.0,
    generator: torch.Generator | None = None,
) -> MemorizeComparison:
    """Build the memorising net on the training points and train the same family ``[D, 2ND, N, 1]`` by SGD.

    The trained net sees ``x / scale`` during training (so the default initialisation suits the
    0..16 digits); the scale is then folded into ``A_1`` (``A_1 (x/s) = (A_1/s) x``), so both nets
    are functions of the raw ``x`` from the same family.

    Returns
    -------
    MemorizeComparison
    """
    X_train = np.asarray(X_train)
    X_test = np.asarray(X_test)
    y_train = np.asarray(y_train)
    y_test = np.asarray(y_test)
    memo = memorizing_network(X_train, y_train)
    N, D = X_train.shape
    dims = memo.dims
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    net = mlp(dims, generator=generator)
    hist = train_sgd(net, X_train / scale, y_train, loss="logistic", lr=lr, batch_size=batch_size,
                     epochs=epochs, generator=generator)
    with torch.no_grad():
        net.layers[0].weight.div_(scale)

    def acc(pred, y):
        return float(np.mean(pred == y))

    majority = 1 if np.sum(y_train == 1) >= np.sum(y_train == -1) else -1
    pm_tr, pm_te = predict_sign(memo, X_train), predict_sign(memo, X_test)
    pt_tr, pt_te = predict_sign(net, X_train), predict_sign(net, X_test)
    return MemorizeComparison(
        dims=tuple(dims),
        n_parameters=sum(p.numel() for p in memo.parameters()),
        n_train=len(X_train),
        n_test=len(X_test),
        memorize_train_acc=acc(pm_tr, y_train),
        memorize_test_acc=acc(pm_te, y_test),
        memorize_test_zero_rate=float(np.mean(pm_te == 0)),
        memorize_test_acc_majority=acc(np.where(pm_te == 0, majority, pm_te), y_test),
        trained_train_acc=acc(pt_tr, y_train),
        trained_test_acc=acc(pt_te, y_test),
        trained_test_zero_rate=float(np.mean(pt_te == 0)),
        loss_curve=hist.epoch_losses,
        nets={"memorising": memo, "trained by SGD": net},
    )


@torch.no_grad()
def plot_memorize_profile(nets: dict, x_a: np.ndarray, x_b: np.ndarray, *, n_steps: int = 401):
    """``f`` along the segment from ``x_a`` to ``x_b`` (two training points) for each named net.

    The memorising net is a spike of height ``y_n`` at each training point, 0 everywhere else
    beyond L1 distance 1; a trained net varies smoothly between them.

    Parameters
    ----------
    nets : dict of name -> nn.Module with one output
    x_a, x_b : arrays (D,)

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    x_a = np.asarray(x_a, dtype=np.float64)
    x_b = np.asarray(x_b, dtype=np.float64)
    step = x_b - x_a
    l1 = float(np.abs(step).sum())
    if l1 == 0:
        raise VisionkitError("x_a, x_b: expected two different points, got the same one twice")
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    ax_full, ax_zoom = fig.subplots(1, 2)
    # left: the whole segment; right: within L1 distance 2 of x_a, where the spike lives
    for ax, t in ((ax_full, np.linspace(-0.25, 1.25, n_steps)), (ax_zoom, np.linspace(-2, 2, n_steps) / l1)):
        pts = x_a[None] + t[:, None] * step[None]
        for name, net in nets.items():
            dtype = next(net.parameters()).dtype
            f = net(torch.as_tensor(pts, dtype=dtype)).squeeze(1).double().numpy()
            ax.plot(t if ax is ax_full else t * l1, f, label=name)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel(r"$f(x)$")
    ax_full.axvline(0, color="gray", ls=":")
    ax_full.axvline(1, color="gray", ls=":")
    ax_full.set_xlabel(r"$t$, at $x = x_a + t\,(x_b - x_a)$; $x_a$, $x_b$: training digits of each class")
    ax_full.set_title(f"whole segment ($||x_b - x_a||_1$ = {l1:.0f})")
    ax_full.legend()
    ax_zoom.set_xlabel(r"$||x - x_a||_1$ along the segment (signed)")
    ax_zoom.set_title(r"zoom on $x_a$: the spike $y_a\,relu(1 - ||x - x_a||_1)$")
    return fig
