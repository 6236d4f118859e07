"""Double descent: the test error peaks at the interpolation threshold p = n_train and falls beyond it."""

import os

import numpy as np
import pytest
from matplotlib.figure import Figure

from visionkit import VisionkitError
from visionkit.lessons.double_descent import (
    double_descent_curve,
    digits_double_descent,
    fashion_mnist_double_descent,
    plot_double_descent,
    random_relu_features,
)

N_TRAIN = 60
SIZES = [6, 12, 20, 30, 40, 50, 55, 60, 66, 80, 120, 240, 600]


@pytest.fixture(scope="module")
def curve():
    return digits_double_descent(N_TRAIN, 400, n_features=SIZES, label_noise=0.2, n_repeats=3, random_state=0)


def test_peak_at_the_interpolation_threshold(curve):
    assert curve.n_train == N_TRAIN
    assert 0.8 * N_TRAIN <= curve.peak_features <= 1.25 * N_TRAIN
    # the classification error peaks there too
    peak_err = curve.n_features[int(np.argmax(curve.test_error))]
    assert 0.8 * N_TRAIN <= peak_err <= 1.25 * N_TRAIN


def test_error_goes_down_again_beyond_the_threshold(curve):
    i_peak = int(np.argmax(curve.test_mse))
    beyond = curve.test_mse[i_peak + 1:]
    # the second descent: monotone from the peak to 10 n_train, ending far below the peak
    assert np.all(np.diff(beyond) < 0)
    assert curve.test_mse[-1] < 0.05 * curve.test_mse[i_peak]
    assert curve.test_error[-1] < curve.test_error[i_peak] - 0.3
    # and the first descent: the error falls before it rises to the peak
    assert curve.test_error[np.argmin(curve.test_error[:i_peak])] < curve.test_error[0] - 0.1


def test_interpolation_beyond_threshold_and_min_norm(curve):
    over = curve.n_features >= N_TRAIN
    under = curve.n_features < 0.8 * N_TRAIN
    assert np.all(curve.train_mse[over] < 1e-12)  # p >= n: the noisy labels are fitted exactly
    assert np.all(curve.train_mse[under] > 1e-3)  # p < n: they cannot be
    # the norm of the min-norm solution blows up at the threshold, then shrinks
    i_peak = int(np.argmax(curve.test_mse))
    assert np.argmax(curve.beta_norm) == i_peak
    assert curve.beta_norm[-1] < curve.beta_norm[i_peak] / 10
    assert np.array_equal(curve.n_parameters, curve.n_features * 10)


def test_no_label_noise_no_interpolation_disaster():
    # noise-free labels: still a bump at p = n, but a much smaller one
    clean = digits_double_descent(N_TRAIN, 400, n_features=[30, 60, 600], label_noise=0.0, n_repeats=3)
    noisy = digits_double_descent(N_TRAIN, 400, n_features=[30, 60, 600], label_noise=0.4, n_repeats=3)
    assert noisy.test_mse[1] > 3 * clean.test_mse[1]


def test_seeded():
    a = digits_double_descent(40, 100, n_features=[10, 40, 100], n_repeats=1, random_state=3)
    b = digits_double_descent(40, 100, n_features=[10, 40, 100], n_repeats=1, random_state=3)
    c = digits_double_descent(40, 100, n_features=[10, 40, 100], n_repeats=1, random_state=4)
    assert np.array_equal(a.test_mse, b.test_mse) and not np.array_equal(a.test_mse, c.test_mse)


def test_min_norm_solution_by_hand():
    # at p > n the fitted beta is the min-norm interpolant: train predictions equal the labels,
    # and beta lies in the row space of the feature matrix
    rng = np.random.default_rng(0)
    X = rng.normal(size=(15, 4)) / 2
    y = rng.integers(0, 3, size=15)
    V, c = random_relu_features(X, 40, random_state=1)
    F = np.maximum(X @ V.T + c, 0)
    beta = np.linalg.lstsq(F, np.eye(3)[y], rcond=None)[0]
    np.testing.assert_allclose(F @ beta, np.eye(3)[y], atol=1e-9)
    np.testing.assert_allclose(beta, F.T @ np.linalg.solve(F @ F.T, np.eye(3)[y]), atol=1e-8)
    curve = double_descent_curve(X, y, X, y, [40], label_noise=0.0, n_repeats=1)
    assert curve.train_mse[0] < 1e-15 and curve.test_error[0] == 0


def test_plot(curve):
    fig = plot_double_descent(curve)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    x, yv = fig.axes[0].lines[0].get_data()
    np.testing.assert_array_equal(x, curve.n_features)
    np.testing.assert_array_equal(yv, curve.test_mse)


def test_bad_inputs():
    X = np.zeros((5, 3))
    y = np.zeros(5, int)
    with pytest.raises(VisionkitError):
        double_descent_curve(X, y, np.zeros((5, 2)), y, [3])
    with pytest.raises(VisionkitError):
        double_descent_curve(X, y, X, y, [3], label_noise=1.5)
    with pytest.raises(VisionkitError):
        double_descent_curve(X, y, X, y, [0])
    with pytest.raises(VisionkitError):
        digits_double_descent(2000, 1000)


FMNIST = "/work/shared/datasets/FashionMNIST"


@pytest.mark.skipif(not os.path.isdir(FMNIST), reason=f"Fashion-MNIST IDX files not found in {FMNIST}")
def test_fashion_mnist_peak():
    curve = fashion_mnist_double_descent(FMNIST, 100, 300, n_features=[30, 90, 100, 110, 1000], n_repeats=1)
    assert curve.peak_features == 100
    assert curve.test_mse[-1] < curve.test_mse[2] / 5
