"""Lesson 3: double descent. Test error against model size, the peak at the interpolation threshold.

"On pourrait penser que limiter le nombre de neurones est le moyen de limiter le sur-apprentissage.
En pratique, c'est plus compliqué." Two-layer nets f(x) = beta relu(V x + c) with p random, frozen
first-layer units and the last layer fitted by minimum-norm least squares, on data with 20% noisy
training labels, for p from n_train/20 to 10 n_train.

Run as a script (``PYTHONPATH=. python demos/lesson_double_descent.py [--quick] [--out DIR]``) or cell by cell.
"""

# %% settings
import argparse
import os
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from visionkit.lessons.double_descent import digits_double_descent, fashion_mnist_double_descent, plot_double_descent

parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
parser.add_argument("--quick", action="store_true", help="digits only, fewer sizes (for CI)")
parser.add_argument("--out", default="out", help="folder for the figures (default: out/)")
parser.add_argument("--fashion-mnist", default=None,
                    help="folder with the Fashion-MNIST IDX files (default: searched like `visionkit compare --data "
                         "fashion-mnist`: $VISIONKIT_DATA, ../shared/datasets, ~/.cache/visionkit/data; skipped when absent)")
args, _ = parser.parse_known_args()
if args.fashion_mnist is None:  # the harness's data search, not a machine-specific path
    from visionkit.bench.specs import _candidate_roots

    args.fashion_mnist = next((str(r) for r in _candidate_roots("FashionMNIST") if r.is_dir()), "")
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
threadpool_limits(1)  # small problems: one BLAS thread is much faster than two on a shared machine


def report(name, curve, seconds):
    print(f"\n{name}: n_train = {curve.n_train}, {curve.label_noise:.0%} label noise  [{seconds:.1f} s]")
    print(curve.table())
    i = int(np.argmax(curve.test_mse))
    best_under = int(np.argmin(np.where(curve.n_features < curve.n_train, curve.test_error, np.inf)))
    print(f"peak of the test MSE at p = {curve.peak_features} (p/n = {curve.peak_features / curve.n_train:.2f}): "
          f"MSE {curve.test_mse[i]:.3g}, error {curve.test_error[i]:.3f}")
    print(f"best under-parameterised: p = {curve.n_features[best_under]}, error {curve.test_error[best_under]:.3f}; "
          f"largest model p = {curve.n_features[-1]}: error {curve.test_error[-1]:.3f}, MSE {curve.test_mse[-1]:.3g}")


# %% scikit-learn digits (8x8, 10 classes)
t0 = time.perf_counter()
sizes = [5, 10, 20, 30, 50, 70, 90, 100, 110, 140, 200, 400, 1000] if args.quick else None
digits = digits_double_descent(100, 1000, n_features=sizes, label_noise=0.2, n_repeats=3, random_state=0)
report("digits", digits, time.perf_counter() - t0)
path = OUT / "lesson_double_descent_digits.png"
plot_double_descent(digits, title="double descent on digits (n_train = 100, 20% label noise, 3 repeats)").savefig(path, dpi=90)
print("wrote", path)

# %% a Fashion-MNIST subset (28x28, 10 classes)
if not args.quick and os.path.isdir(args.fashion_mnist):
    t0 = time.perf_counter()
    fm = fashion_mnist_double_descent(args.fashion_mnist, 300, 1000, label_noise=0.2, n_repeats=1, random_state=0)
    report("Fashion-MNIST", fm, time.perf_counter() - t0)
    path = OUT / "lesson_double_descent_fashion_mnist.png"
    plot_double_descent(fm, title="double descent on Fashion-MNIST (n_train = 300, 20% label noise)").savefig(path, dpi=90)
    print("wrote", path)
