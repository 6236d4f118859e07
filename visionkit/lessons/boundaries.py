"""Decision boundaries in 2-D: one neuron, four ReLU neurons, a deeper MLP (the playground.tensorflow.org idea).

"1 neurone ne peut être que linéaire", "4 neurones + activation peut être une fonction non
linéaire". :func:`toy_dataset` draws the classic 2-D problems (two moons, circles, XOR, a linear
split) with labels ±1; :func:`fit_boundary_nets` trains ``mlp([2, 1])``, ``mlp([2, 4, 1])`` and a
deeper MLP with :func:`visionkit.lessons.train_sgd`; :func:`decision_boundary_figure` draws each
net's sign regions and its zero level set ``f(x) = 0`` over the data.

Figures are :class:`matplotlib.figure.Figure` objects made without pyplot (no global state, any
backend; ``fig.savefig`` writes them with Agg).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .._validate import VisionkitError, check_positive
from .mlp import MLP, mlp
from .optim import train_sgd

__all__ = ["toy_dataset", "BoundaryNet", "fit_boundary_nets", "decision_values", "decision_boundary_figure", "boundary_gallery",
           "DEFAULT_ARCHITECTURES", "TOY_DATASETS"]

TOY_DATASETS = ("moons", "circles", "xor", "linear")

#: (title, dims): the three architectures of the lesson.
DEFAULT_ARCHITECTURES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("1 neuron  [2, 1]", (2, 1)),
    ("4 ReLU neurons  [2, 4, 1]", (2, 4, 1)),
    ("deeper MLP  [2, 32, 32, 1]", (2, 32, 32, 1)),
)


def toy_dataset(name: str = "moons", n_samples: int = 300, *, noise: float = 0.15,
                random_state: int | np.random.Generator | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D binary problem, standardised to zero mean and unit variance per axis.

    Parameters
    ----------
    name : {"moons", "circles", "xor", "linear"}
    n_samples : int
    noise : float
        Standard deviation of the Gaussian noise (moons, circles, linear) or of the jitter (XOR).
    random_state : int or Generator

    Returns
    -------
    X : float64 (n_samples, 2), y : int64 (n_samples,) in {-1, 1}
    """
    from sklearn.datasets import make_circles, make_moons

    if name not in TOY_DATASETS:
        raise VisionkitError(f"name: expected one of {TOY_DATASETS}, got {name!r}")
    n_samples = check_positive(n_samples, "n_samples", integer=True)
    rng = np.random.default_rng(random_state)
    seed = int(rng.integers(2**31 - 1))
    if name == "moons":
        X, t = make_moons(n_samples, noise=noise, random_state=seed)
    elif name == "circles":
        X, t = make_circles(n_samples, noise=noise * 0.5, factor=0.5, random_state=seed)
    elif name == "xor":
        X = rng.uniform(-1, 1, size=(n_samples, 2))
        X = X + np.sign(X) * 0.1 + rng.normal(scale=noise * 0.3, size=X.shape)  # a small gap around the axes
        t = (X[:, 0] * X[:, 1] > 0).astype(int)
    else:
        X = rng.normal(size=(n_samples, 2))
        t = (X @ np.array([1.0, -0.7]) + 0.3 + rng.normal(scale=noise, size=n_samples) > 0).astype(int)
    X = (X - X.mean(0)) / X.std(0)
    return X.astype(np.float64), np.where(t == 1, 1, -1).astype(np.int64)


@dataclass
class BoundaryNet:
    """A trained net with its title, its training accuracy and its loss curve."""

    title: str
    net: MLP
    train_accuracy: float
    loss_curve: list[float]


@torch.no_grad()
def decision_values(net: torch.nn.Module, points: np.ndarray) -> np.ndarray:
    """``f(x)`` for every row of ``points`` (N, 2), as float64 (N,)."""
    dtype = next(net.parameters()).dtype
    return net(torch.as_tensor(np.asarray(points), dtype=dtype)).squeeze(1).double().numpy()


def fit_boundary_nets(X: np.ndarray, y: np.ndarray,
                      architectures: Sequence[tuple[str, Sequence[int]]] = DEFAULT_ARCHITECTURES, *,
                      epochs: int = 200, lr: float = 0.1, batch_size: int = 32,
                      random_state: int = 0) -> list[BoundaryNet]:
    """Train one net per architecture on (X, y) with mini-batch SGD and the logistic loss.

    Parameters
    ----------
    X : (N, 2), y : (N,) in {-1, 1}
    architectures : sequence of (title, dims), dims starting with 2 and ending with 1
    epochs, lr, batch_size : SGD settings (see :func:`visionkit.lessons.train_sgd`)
    random_state : int, seeds the weights and the batch order of every net

    Returns
    -------
    list of BoundaryNet
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or len(y) != len(X):
        raise VisionkitError(f"expected X of shape (N, 2) and y of shape (N,), got {X.shape} and {y.shape}")
    out = []
    for title, dims in architectures:
        if dims[0] != 2 or dims[-1] != 1:
            raise VisionkitError(f"architecture {title!r}: expected dims [2, ..., 1], got {list(dims)}")
        g = torch.Generator().manual_seed(random_state)
        net = mlp(dims, generator=g)
        hist = train_sgd(net, X, y, loss="logistic", lr=lr, batch_size=batch_size, epochs=epochs, generator=g)
        acc = float(np.mean(np.sign(decision_values(net, X)) == y))
        out.append(BoundaryNet(title, net, acc, hist.epoch_losses))
    return out


def decision_boundary_figure(nets: Sequence[BoundaryNet], X: np.ndarray, y: np.ndarray, *,
                             resolution: int = 200, suptitle: str | None = None):
    """One panel per net: the sign of ``f`` as two colours, the line ``f(x) = 0``, the data points.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    resolution = check_positive(resolution, "resolution", integer=True)
    lo, hi = X.min(0) - 0.5, X.max(0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    fig = Figure(figsize=(4.2 * len(nets), 4.2), layout="constrained")
    axes = fig.subplots(1, len(nets), squeeze=False)[0]
    cmap = ListedColormap(["#f4b183", "#9dc3e6"])
    for ax, item in zip(axes, nets):
        f = decision_values(item.net, grid).reshape(gx.shape)
        ax.contourf(gx, gy, (f > 0).astype(float), levels=[-0.5, 0.5, 1.5], cmap=cmap, alpha=0.8)
        if f.min() < 0 < f.max():
            ax.contour(gx, gy, f, levels=[0.0], colors="k", linewidths=1.5)
        ax.scatter(X[y == 1, 0], X[y == 1, 1], s=10, c="#1f4e79", label="y = +1")
        ax.scatter(X[y == -1, 0], X[y == -1, 1], s=10, c="#c55a11", marker="x", label="y = -1")
        n_par = sum(p.numel() for p in item.net.parameters())
        ax.set_title(f"{item.title}\n{n_par} parameters, train acc {item.train_accuracy:.0%}", fontsize=10)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(loc="lower left", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def boundary_gallery(name: str = "moons", *, n_samples: int = 300, epochs: int = 200,
                     architectures: Sequence[tuple[str, Sequence[int]]] = DEFAULT_ARCHITECTURES,
                     random_state: int = 0, resolution: int = 200):
    """The whole lesson in one call: draw the data set, train the three nets, return the Figure.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per architecture (see :func:`decision_boundary_figure`); ``fig.boundary_nets``
        holds the trained :class:`BoundaryNet` objects.
    """
    X, y = toy_dataset(name, n_samples, random_state=random_state)
    nets = fit_boundary_nets(X, y, architectures, epochs=epochs, random_state=random_state)
    fig = decision_boundary_figure(nets, X, y, resolution=resolution,
                                   suptitle=f"{name}: one neuron, four ReLU neurons, a deeper MLP")
    fig.boundary_nets = nets
    return fig
