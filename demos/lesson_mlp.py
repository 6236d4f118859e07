"""Lesson 1: the MLP family, an architecture versus a function, decision boundaries in 2-D.

Run as a script (``PYTHONPATH=. python demos/lesson_mlp.py [--quick] [--out DIR]``) or cell by cell
(``# %%``) in an editor. Figures go to ``out/`` by default.
"""

# %% settings
import argparse
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
import torch

from visionkit.lessons import mlp, mlp_formula, mlp_parameter_count
from visionkit.lessons.boundaries import decision_boundary_figure, fit_boundary_nets, toy_dataset

parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
parser.add_argument("--quick", action="store_true", help="one data set, fewer epochs (for CI)")
parser.add_argument("--out", default="out", help="folder for the figures (default: out/)")
args, _ = parser.parse_known_args()  # parse_known_args: also runs inside a notebook kernel
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)  # small problems: one thread is much faster than two on a shared machine
threadpool_limits(1)  # the same for numpy's BLAS
EPOCHS = 60 if args.quick else 200
DATASETS = ["xor"] if args.quick else ["moons", "circles", "xor"]

# %% an architecture is a family of functions: dims = [i_0, i_1, ..., i_Q]
for dims in ([2, 1], [2, 4, 1], [2, 2, 3, 1], [2, 32, 32, 1], [784, 100, 10]):
    net = mlp(dims)
    n_torch = sum(p.numel() for p in net.parameters())
    print(f"dims {str(dims):18s} sum_q i_q (i_(q-1) + 1) = {mlp_parameter_count(dims):7d}   torch counts {n_torch:7d}")

# %% a function is one choice of the weights; the module computes the slide's formula
net = mlp([3, 5, 2], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
x = np.random.default_rng(0).normal(size=(4, 3))
weights, biases = zip(*net.parameters_list)
gap = np.abs(net(torch.from_numpy(x)).detach().numpy() - mlp_formula(x, weights, biases)).max()
print(f"max |nn.Module - A_2 relu(A_1 x + b_1) + b_2| = {gap:.1e}")

# %% 2 ReLU neurons already leave the linear world: |x| = relu(x) + relu(-x)
absnet = mlp([1, 2, 1], dtype=torch.float64).set_parameters(
    [np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])], [np.zeros(2), np.zeros(1)])
xs = torch.tensor([[-2.0], [-0.5], [0.0], [1.5]], dtype=torch.float64)
print("x     :", xs.ravel().tolist())
print("f(x)  :", absnet(xs).detach().ravel().tolist(), "(= |x|)")

# %% decision boundaries: 1 neuron (a line), 4 ReLU neurons, a deeper MLP
for name in DATASETS:
    X, y = toy_dataset(name, 300, random_state=0)
    nets = fit_boundary_nets(X, y, epochs=EPOCHS, random_state=0)
    for item in nets:
        print(f"{name:8s} {item.title:28s} train accuracy {item.train_accuracy:.3f}")
    fig = decision_boundary_figure(nets, X, y, suptitle=f"{name}: one neuron, four ReLU neurons, a deeper MLP")
    path = OUT / f"lesson_mlp_boundaries_{name}.png"
    fig.savefig(path, dpi=90)
    print("wrote", path)
