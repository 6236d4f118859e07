"""Double descent: test error against model size, with a peak at the interpolation threshold.

"On pourrait penser que limiter le nombre de neurones est le moyen de limiter le sur-apprentissage.
En pratique, c'est plus compliqué." The model here is the two-layer net ``f(x) = β relu(V x + c)``
with a random, frozen first layer (``p`` random ReLU features) and a trained last layer ``β``,
fitted by *minimum-norm least squares* (``β = Φ⁺ Y``, the limit of gradient descent from zero).
Sweeping ``p``:

- ``p < n_train``: a classical regime, more features first help, then start fitting the noise;
- ``p ≈ n_train``: the interpolation threshold; ``Φ`` is square and badly conditioned, the
  least-squares fit interpolates the noisy labels with a huge ``||β||``: the test error peaks;
- ``p > n_train``: many interpolating ``β`` exist, the minimum-norm one gets smoother as ``p``
  grows, and the test error goes down again — the second descent.

The trained parameters number ``p * n_outputs``; the threshold is ``p = n_train`` (each output is
an independent least-squares problem with ``p`` unknowns and ``n_train`` equations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .._validate import VisionkitError, check_positive, describe

__all__ = [
    "random_relu_features",
    "DoubleDescentCurve",
    "double_descent_curve",
    "digits_double_descent",
    "fashion_mnist_double_descent",
    "plot_double_descent",
]


def random_relu_features(X: np.ndarray, n_features: int, *, bias_scale: float = 0.3,
                         random_state: int | np.random.Generator | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random first layer: ``V`` (n_features, D) with N(0, 1) entries, ``c`` (n_features,) N(0, bias_scale²).

    The features of x are ``relu(V x + c)``; for rows of X of norm about 1 (as the loaders below
    scale them) the pre-activations are about N(0, 1), so few units are dead or linear and the
    feature matrix has full rank ``min(n, p)``: the threshold sits exactly at ``p = n``.
    Returns ``(V, c)``.
    """
    X = np.asarray(X)
    n_features = check_positive(n_features, "n_features", integer=True)
    bias_scale = check_positive(bias_scale, "bias_scale", allow_zero=True)
    rng = np.random.default_rng(random_state)
    V = rng.normal(size=(n_features, X.shape[1]))
    c = rng.normal(scale=bias_scale, size=n_features) if bias_scale > 0 else np.zeros(n_features)
    return V, c


def _features(X: np.ndarray, V: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.maximum(X @ V.T + c, 0.0)


@dataclass
class DoubleDescentCurve:
    """Errors of the min-norm random-features model for each number of features (averaged over repeats).

    Attributes
    ----------
    n_features : int array (S,)
    n_parameters : int array (S,), trained parameters ``n_features * n_outputs``
    n_train : int, the interpolation threshold is ``n_features == n_train``
    test_mse, train_mse : float arrays (S,), mean squared error on one-hot targets (per output)
    test_error, train_error : float arrays (S,), classification error (argmax)
    test_mse_std, test_error_std : float arrays (S,), spread over the repeats
    beta_norm : float array (S,), ``||β||_F``, mean over repeats
    label_noise : float, fraction of training labels replaced by random ones
    """

    n_features: np.ndarray
    n_parameters: np.ndarray
    n_train: int
    test_mse: np.ndarray
    train_mse: np.ndarray
    test_error: np.ndarray
    train_error: np.ndarray
    test_mse_std: np.ndarray
    test_error_std: np.ndarray
    beta_norm: np.ndarray
    label_noise: float

    @property
    def peak_features(self) -> int:
        """Number of features where the test MSE is largest."""
        return int(self.n_features[int(np.argmax(self.test_mse))])

    def table(self) -> str:
        """The curve as text, one row per model size."""
        rows = [f"{'features':>9} {'params':>8} {'p/n':>6} {'train MSE':>10} {'test MSE':>10} {'test err':>9} {'||beta||':>10}"]
        for i, p in enumerate(self.n_features):
            rows.append(f"{p:9d} {self.n_parameters[i]:8d} {p / self.n_train:6.2f} {self.train_mse[i]:10.4f} "
                        f"{self.test_mse[i]:10.4f} {self.test_error[i]:9.3f} {self.beta_norm[i]:10.1f}")
        return "\n".join(rows)


def double_descent_curve(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    n_features: Sequence[int],
    *,
    label_noise: float = 0.2,
    n_repeats: int = 3,
    random_state: int = 0,
) -> DoubleDescentCurve:
    """Sweep the number of random ReLU features; fit the last layer by minimum-norm least squares.

    Parameters
    ----------
    X_train, X_test : float arrays (n, D), already scaled: centred, rows of norm about 1
    y_train, y_test : int arrays (n,), class labels 0..C-1
    n_features : sequence of int, the model sizes ``p``
    label_noise : float in [0, 1)
        Fraction of training labels replaced by uniformly random classes (new draw per repeat);
        test labels stay clean. Noise is what makes the peak at the threshold visible.
    n_repeats : int
        Independent draws of the features and of the noise; the curve is their mean.
    random_state : int

    Returns
    -------
    DoubleDescentCurve
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    y_train = np.asarray(y_train)
    y_test = np.asarray(y_test)
    if X_train.ndim != 2 or X_test.ndim != 2 or X_train.shape[1] != X_test.shape[1]:
        raise VisionkitError(f"expected X_train (n, D) and X_test (m, D), got {describe(X_train)} and {describe(X_test)}")
    if len(y_train) != len(X_train) or len(y_test) != len(X_test):
        raise VisionkitError("expected one label per row of X_train and of X_test")
    if not 0 <= label_noise < 1:
        raise VisionkitError(f"label_noise: expected a fraction in [0, 1), got {label_noise!r}")
    n_repeats = check_positive(n_repeats, "n_repeats", integer=True)
    sizes = np.array([check_positive(int(p), "n_features", integer=True) for p in n_features])
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    eye = np.eye(n_classes)
    Y_test = eye[y_test]
    rng = np.random.default_rng(random_state)
    S = len(sizes)
    res = {k: np.zeros((n_repeats, S)) for k in ("test_mse", "train_mse", "test_err", "train_err", "bnorm")}
    for r in range(n_repeats):
        noisy = y_train.copy()
        flip = rng.random(len(noisy)) < label_noise
        noisy[flip] = rng.integers(0, n_classes, size=int(flip.sum()))
        Y_train = eye[noisy]
        # one draw of the largest layer per repeat; smaller models use its first p units (nested models)
        V, c = random_relu_features(X_train, int(sizes.max()), random_state=rng)
        F_train_all = _features(X_train, V, c)
        F_test_all = _features(X_test, V, c)
        for s, p in enumerate(sizes):
            F_tr, F_te = F_train_all[:, :p], F_test_all[:, :p]
            beta = np.linalg.lstsq(F_tr, Y_train, rcond=None)[0]  # SVD: the minimum-norm solution
            P_tr, P_te = F_tr @ beta, F_te @ beta
            res["train_mse"][r, s] = np.mean((P_tr - Y_train) ** 2)
            res["test_mse"][r, s] = np.mean((P_te - Y_test) ** 2)
            res["train_err"][r, s] = np.mean(P_tr.argmax(1) != noisy)
            res["test_err"][r, s] = np.mean(P_te.argmax(1) != y_test)
            res["bnorm"][r, s] = np.linalg.norm(beta)
    return DoubleDescentCurve(
        n_features=sizes,
        n_parameters=sizes * n_classes,
        n_train=len(X_train),
        test_mse=res["test_mse"].mean(0),
        train_mse=res["train_mse"].mean(0),
        test_error=res["test_err"].mean(0),
        train_error=res["train_err"].mean(0),
        test_mse_std=res["test_mse"].std(0),
        test_error_std=res["test_err"].std(0),
        beta_norm=res["bnorm"].mean(0),
        label_noise=float(label_noise),
    )


def _default_sizes(n_train: int, n_points: int = 25) -> np.ndarray:
    # log-spaced from n/20 to 10 n, with the threshold itself and its neighbours included
    sizes = np.unique(np.round(np.geomspace(max(2, n_train // 20), 10 * n_train, n_points)).astype(int))
    return np.unique(np.concatenate([sizes, [n_train - n_train // 10, n_train, n_train + n_train // 10]]))


def _split(X, y, n_train, n_test, rng):
    perm = rng.permutation(len(X))
    if n_train + n_test > len(X):
        raise VisionkitError(f"n_train + n_test: expected at most {len(X)} samples, got {n_train} + {n_test}")
    tr, te = perm[:n_train], perm[n_train:n_train + n_test]
    return *_center_scale(X[tr], X[te]), y[tr], y[te]


def _center_scale(X_train, X_test):
    # centre on the training mean, scale so that training rows have mean norm 1
    mean = X_train.mean(0)
    scale = np.linalg.norm(X_train - mean, axis=1).mean()
    return (X_train - mean) / scale, (X_test - mean) / scale


def digits_double_descent(n_train: int = 100, n_test: int = 1000, *, n_features: Sequence[int] | None = None,
                          label_noise: float = 0.2, n_repeats: int = 3, random_state: int = 0) -> DoubleDescentCurve:
    """The double-descent curve on scikit-learn's digits (8x8, 10 classes; pixels centred, rows scaled to mean norm 1).

    ``n_features`` defaults to a log-spaced sweep from ``n_train/20`` to ``10 n_train`` that includes
    the threshold ``n_train``.
    """
    from ..data import load_digits

    ds = load_digits()
    X = ds.images.reshape(len(ds), -1).astype(np.float64) / 255.0
    rng = np.random.default_rng(random_state)
    Xtr, Xte, ytr, yte = _split(X, ds.labels, n_train, n_test, rng)
    sizes = _default_sizes(n_train) if n_features is None else n_features
    return double_descent_curve(Xtr, ytr, Xte, yte, sizes, label_noise=label_noise, n_repeats=n_repeats,
                                random_state=int(rng.integers(2**31 - 1)))


def fashion_mnist_double_descent(root, n_train: int = 500, n_test: int = 2000, *,
                                 n_features: Sequence[int] | None = None, label_noise: float = 0.2,
                                 n_repeats: int = 2, random_state: int = 0) -> DoubleDescentCurve:
    """The same sweep on a Fashion-MNIST subset (784 pixels centred, rows scaled to mean norm 1), from IDX files in ``root``."""
    from ..data import load_idx_dataset

    train = load_idx_dataset(root, "train")
    test = load_idx_dataset(root, "test")
    rng = np.random.default_rng(random_state)
    itr = rng.choice(len(train), n_train, replace=False)
    ite = rng.choice(len(test), n_test, replace=False)
    Xtr = train.images[itr].reshape(n_train, -1) / 255.0
    Xte = test.images[ite].reshape(n_test, -1) / 255.0
    Xtr, Xte = _center_scale(Xtr, Xte)
    sizes = _default_sizes(n_train) if n_features is None else n_features
    return double_descent_curve(Xtr, train.labels[itr], Xte, test.labels[ite], sizes,
                                label_noise=label_noise, n_repeats=n_repeats,
                                random_state=int(rng.integers(2**31 - 1)))


def plot_double_descent(curve: DoubleDescentCurve, *, title: str | None = None):
    """Test and train error against the number of features, the threshold ``p = n_train`` marked.

    Returns
    -------
    matplotlib.figure.Figure with two panels: MSE (log scale) and classification error.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_mse, ax_err = fig.subplots(1, 2)
    p = curve.n_features
    ax_mse.plot(p, curve.test_mse, "o-", ms=3, label="test MSE")
    ax_mse.fill_between(p, np.maximum(curve.test_mse - curve.test_mse_std, curve.test_mse / 10),
                        curve.test_mse + curve.test_mse_std, alpha=0.2)
    floor = 0.1 * float(np.min(curve.test_mse))  # beyond the threshold the train MSE is 0 up to rounding
    ax_mse.plot(p, np.maximum(curve.train_mse, floor), "s--", ms=3, label=f"train MSE (noisy labels), floored at {floor:.0e}")
    ax_mse.set_yscale("log")
    ax_mse.set_ylabel("mean squared error (one-hot targets)")
    ax_err.plot(p, curve.test_error, "o-", ms=3, label="test error")
    ax_err.fill_between(p, curve.test_error - curve.test_error_std, curve.test_error + curve.test_error_std, alpha=0.2,
                        label="± 1 std over repeats")
    ax_err.plot(p, curve.train_error, "s--", ms=3, label="train error (noisy labels)")
    ax_err.set_ylabel("classification error")
    for ax in (ax_mse, ax_err):
        ax.set_xscale("log")
        ax.axvline(curve.n_train, color="k", ls=":", label=f"p = n_train = {curve.n_train}")
        ax.set_xlabel(f"random ReLU features p  (trained parameters = {curve.n_parameters[0] // p[0]} p)")
        ax.legend(fontsize=8)
    fig.suptitle(title or f"double descent: min-norm least squares on p random ReLU features, "
                          f"{curve.label_noise:.0%} label noise")
    return fig
