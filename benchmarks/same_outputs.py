"""Save the classical methods' features and predictions on a digits subset, or compare two such saves.

For refactors that must not change behaviour: run it in each checkout, then compare::

    (cd OLD && PYTHONPATH=$PWD python benchmarks/same_outputs.py save /tmp/old.npz)
    (cd NEW && PYTHONPATH=$PWD python benchmarks/same_outputs.py save /tmp/new.npz)
    python benchmarks/same_outputs.py compare /tmp/old.npz /tmp/new.npz

Every registered classical method, built with the tests' tiny settings (the bag-of-words ones with
``n_jobs=2``), is fitted on 300 digits and asked for ``transform`` and ``predict`` on 100 more.
"""

from __future__ import annotations

import sys
import time

import numpy as np

TINY = {"pixels-svm": {"size": (16, 16)}, "hog-svm": {"size": (16, 16), "pixels_per_cell": (4, 4), "extra_cells": ()},
        "bovw-svm": {"n_words": 24, "step": 8, "patch_sizes": (16,), "pyramid": (1, 2), "n_jobs": 2},
        "harris-bovw-svm": {"n_words": 24, "patch_sizes": (16,), "pyramid": (1, 2)},
        "kmeans-svm": {"n_words": 32, "size": (12, 12), "max_descriptors": 5000, "n_jobs": 2, "chunk_size": 64}}


def save(path: str) -> None:
    from visionkit import registry
    from visionkit.data import load_digits

    d = load_digits()
    idx = np.random.default_rng(0).permutation(len(d.labels))
    x_train, y_train, x_test = d.images[idx[:300]], d.labels[idx[:300]], d.images[idx[300:400]]
    out, t0 = {}, time.perf_counter()
    for name, params in TINY.items():
        seed = {"random_state": 0} if "random_state" in (registry.valid_params(name) or ()) else {}
        method = registry.create(name, **seed, **params).fit(x_train, y_train)
        out[f"{name}_features"] = method.transform(x_test)
        out[f"{name}_predict"] = method.predict(x_test)
    np.savez(path, **out)
    print(f"saved {path} ({time.perf_counter() - t0:.0f} s)")


def compare(a_path: str, b_path: str) -> int:
    a, b = np.load(a_path), np.load(b_path)
    same = True
    for k in sorted(set(a.files) | set(b.files)):
        ok = k in a.files and k in b.files and np.array_equal(a[k], b[k])
        same &= ok
        print(f"{k:28s} {'identical' if ok else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "save":
        save(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
