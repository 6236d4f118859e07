"""Lesson 2: "Avec 100 neurones, on peut faire ça ... Sauf que c'est la pire chose possible".

A ReLU network of the family [D, 2ND, N, 1], written by hand, that classifies any N labelled points
of Z^D perfectly (y_n f(x_n) > 0), and answers 0 everywhere else: it memorises, it does not learn.
Next to it, the same family trained by SGD on the same digits generalises.

Run as a script (``PYTHONPATH=. python demos/lesson_memorize.py [--quick] [--out DIR]``) or cell by cell.
"""

# %% settings
import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
import torch

from visionkit.lessons import (
    compare_memorizing_and_trained,
    digits_binary,
    memorizing_network,
    plot_memorize_profile,
    predict_sign,
)

parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
parser.add_argument("--quick", action="store_true", help="smaller training sets (for CI)")
parser.add_argument("--out", default="out", help="folder for the figures (default: out/)")
args, _ = parser.parse_known_args()
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)  # small problems: one thread is much faster than two on a shared machine
threadpool_limits(1)  # the same for numpy's BLAS
N_TRAIN = 60 if args.quick else 150

# %% random points of Z^5 with random labels: every one classified right, exactly f(x_n) = y_n
rng = np.random.default_rng(0)
X = np.unique(rng.integers(-5, 6, size=(300, 5)), axis=0)[:100]
y = rng.choice([-1, 1], size=len(X))
net = memorizing_network(X, y)
with torch.no_grad():
    f = net(torch.as_tensor(X, dtype=torch.float64)).squeeze(1).numpy()
print(f"random Z^5 data, N={len(X)}: dims {list(net.dims)}, min_n y_n f(x_n) = {np.min(y * f):.0f}, "
      f"f(x_n) == y_n for all n: {np.array_equal(f, y)}")
off = rng.integers(-5, 6, size=(2000, 5))
off = off[~(off[:, None, :] == X[None]).all(-1).any(1)]
print(f"  at {len(off)} other integer points, f = 0 at {np.mean(predict_sign(net, off) == 0):.1%} of them")

# %% real digits: one class against another, then odd against even (pixel values 0..16 are in Z^64)
for name, pos, neg in [("3 vs 8", (3,), (8,)), ("odd vs even", (1, 3, 5, 7, 9), (0, 2, 4, 6, 8))]:
    X, y = digits_binary(pos, neg)
    perm = np.random.default_rng(0).permutation(len(X))
    tr, te = perm[:N_TRAIN], perm[N_TRAIN:]
    t0 = time.perf_counter()
    res = compare_memorizing_and_trained(X[tr], y[tr], X[te], y[te], epochs=30,
                                         generator=torch.Generator().manual_seed(0))
    print(f"\ndigits {name}: family {list(res.dims)} ({res.n_parameters:,} parameters), "
          f"{res.n_train} train / {res.n_test} test digits  [{time.perf_counter() - t0:.1f} s]")
    print(f"  memorising net : train acc {res.memorize_train_acc:.3f}   test acc {res.memorize_test_acc:.3f} "
          f"(f = 0 on {res.memorize_test_zero_rate:.1%} of test digits; "
          f"answering the majority label there: {res.memorize_test_acc_majority:.3f})")
    print(f"  trained by SGD : train acc {res.trained_train_acc:.3f}   test acc {res.trained_test_acc:.3f}")

# %% the memorising net along a segment between two training digits of different classes
i_a = tr[np.flatnonzero(y[tr] == 1)[0]]
i_b = tr[np.flatnonzero(y[tr] == -1)[0]]
fig = plot_memorize_profile(res.nets, X[i_a], X[i_b])
path = OUT / "lesson_memorize_profile.png"
fig.savefig(path, dpi=90)
print("wrote", path)
