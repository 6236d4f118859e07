"""Lesson 4: how an MLP is trained. Gradient descent, the stochastic gradient, mini-batch SGD.

1. Gradient descent with the slides' rule (halve λ until J decreases) on min ||Au - b||², checked
   against the closed form (np.linalg.lstsq).
2. The stochastic gradient: with J = Σ_k j_k and k uniform, E[∇j_k] = ∇J / K; the unbiased
   estimate of ∇J is K ∇j_k (the slide's E[∇g] = ∇J holds for the mean J = (1/K) Σ_k j_k).
3. An MLP trained by mini-batch SGD on the digits, with its loss curve.

Run as a script (``PYTHONPATH=. python demos/lesson_gradient_descent.py [--quick] [--out DIR]``) or cell by cell.
"""

# %% settings
import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
import torch
from matplotlib.figure import Figure

from visionkit.lessons import (
    expected_stochastic_gradient,
    gradient_descent,
    least_squares,
    per_example_gradients,
    plot_loss_curve,
    sample_stochastic_gradients,
    train_mlp_on_digits,
)

parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
parser.add_argument("--quick", action="store_true", help="fewer epochs and samples (for CI)")
parser.add_argument("--out", default="out", help="folder for the figures (default: out/)")
args, _ = parser.parse_known_args()
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)  # small problems: one thread is much faster than two on a shared machine
threadpool_limits(1)  # the same for numpy's BLAS

# %% 1. gradient descent on least squares, against the closed form
rng = np.random.default_rng(0)
K, P = 200, 20
A = rng.normal(size=(K, P))
b = A @ rng.normal(size=P) + 0.1 * rng.normal(size=K)
J, grad = least_squares(A, b)
t0 = time.perf_counter()
gd = gradient_descent(J, grad, np.zeros(P), delta=1e-6, lambda0=1.0)
t_gd = time.perf_counter() - t0
t0 = time.perf_counter()
u_star = np.linalg.lstsq(A, b, rcond=None)[0]
t_ls = time.perf_counter() - t0
s = np.linalg.svd(A, compute_uv=False)
print(f"least squares, A {K}x{P} (condition number {s[0] / s[-1]:.1f}):")
print(f"  gradient descent: {gd.n_iter} steps, {gd.n_evals} evaluations of J, stop: {gd.stop_reason}, "
      f"||grad J|| = {gd.grad_norms[-1]:.2e}  [{t_gd * 1e3:.1f} ms]")
print(f"  ||u_gd - u_lstsq|| = {np.linalg.norm(gd.u - u_star):.2e}  (bound delta / (2 sigma_min^2) = {1e-6 / (2 * s[-1] ** 2):.2e})")
print(f"  J(u_gd) - J(u_lstsq) = {J(gd.u) - J(u_star):.2e}  [lstsq {t_ls * 1e3:.1f} ms]")
print(f"  accepted steps lambda: {sorted(set(gd.steps))} (1/L = {1 / (2 * s[0] ** 2):.4f})")

fig = Figure(figsize=(6, 3.5), layout="constrained")
ax = fig.add_subplot()
# J(u_t) - J(u*) reaches the float64 resolution of J (about 1e-16 J): floored there for the log scale
ax.semilogy(np.maximum(np.array(gd.values) - J(u_star), 1e-16 * J(u_star)), label=r"$J(u_t) - J(u^*)$")
ax.semilogy(gd.grad_norms, label=r"$||\nabla J(u_t)||$")
ax.axhline(1e-6, color="k", ls=":", label=r"$\delta = 10^{-6}$")
ax.set_xlabel("step t")
ax.set_title("gradient descent with halving steps on $||Au - b||^2$")
ax.legend()
path = OUT / "lesson_gradient_descent_least_squares.png"
fig.savefig(path, dpi=90)
print("wrote", path)

# %% the number of steps grows with the conditioning of A (the slide's O(N^2 2^L L) worst case)
for kappa in (1.0, 3.0, 10.0, 30.0):
    U, _ = np.linalg.qr(rng.normal(size=(K, P)))
    V, _ = np.linalg.qr(rng.normal(size=(P, P)))
    A_k = U @ np.diag(np.geomspace(1.0, 1.0 / kappa, P)) @ V.T
    b_k = A_k @ rng.normal(size=P) + 0.01 * rng.normal(size=K)
    J_k, g_k = least_squares(A_k, b_k)
    r = gradient_descent(J_k, g_k, np.zeros(P), delta=1e-6)
    err = np.linalg.norm(r.u - np.linalg.lstsq(A_k, b_k, rcond=None)[0])
    print(f"  condition number {kappa:5.1f}: {r.n_iter:6d} steps ({r.stop_reason}), ||u_gd - u_lstsq|| = {err:.2e}")

# %% 2. the stochastic gradient: what is unbiased
Ks, Ps = 10, 3
A_s, b_s = A[:Ks, :Ps], b[:Ks]
u = rng.normal(size=Ps)
per = per_example_gradients(A_s, b_s, u)
full = least_squares(A_s, b_s)[1](u)
print(f"\nJ = sum of K = {Ks} terms j_k(u) = (a_k^T u - b_k)^2, at a random u:")
print("  grad J                          ", np.round(full, 4))
print("  E_k[grad j_k]       (enumerated)", np.round(expected_stochastic_gradient(per, 1, scaled=False), 4), " = grad J / K")
print("  E_k[K grad j_k]     (enumerated)", np.round(expected_stochastic_gradient(per, 1), 4), " = grad J")
print("  E_S[(K/B) sum_S grad j_k], B = 3", np.round(expected_stochastic_gradient(per, 3), 4), " = grad J")
n = 2000 if args.quick else 50000
samples = sample_stochastic_gradients(per, n, generator=np.random.default_rng(0))
se = samples.std(0, ddof=1) / np.sqrt(n)
print(f"  mean of {n} samples of K grad j_k", np.round(samples.mean(0), 4),
      f" (z-scores vs grad J: {np.round((samples.mean(0) - full) / se, 2)})")

# %% 3. an MLP [64, 32, 10] trained by mini-batch SGD on the digits
t0 = time.perf_counter()
res = train_mlp_on_digits((32,), n_train=1200, epochs=8 if args.quick else 30, lr=0.3, batch_size=32, random_state=0)
h = res.history
print(f"\nMLP [64, 32, 10], mini-batch SGD (batch 32, lr 0.3), {len(h.epoch_losses) - 1} epochs, "
      f"{len(h.batch_losses)} steps  [{time.perf_counter() - t0:.1f} s]")
print("  training loss per epoch:", np.round(h.epoch_losses[:: max(1, len(h.epoch_losses) // 8)], 3).tolist(),
      "... ", round(h.epoch_losses[-1], 4))
print(f"  train accuracy {res.train_accuracy:.3f}, test accuracy {res.test_accuracy:.3f} (597 held-out digits)")
path = OUT / "lesson_gradient_descent_sgd_loss.png"
plot_loss_curve(h, title="MLP [64, 32, 10] on digits: mini-batch SGD").savefig(path, dpi=90)
print("wrote", path)
