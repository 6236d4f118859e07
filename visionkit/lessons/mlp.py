"""The MLP family of the course, exactly as the slides write it.

    f(x) = A_Q φ(A_{Q-1} ( ... φ(A_2 φ(A_1 x + b_1) + b_2) ... ) + b_{Q-1}) + b_Q

with ``A_q`` in R^{i_q x i_{q-1}}, ``b_q`` in R^{i_q}, ``i_0`` the input dimension and no activation
after the last layer. An *architecture* is the list ``dims = [i_0, i_1, ..., i_Q]`` (a family of
functions); a *function* of that family is one choice of the ``A_q, b_q``. The family has
``sum_q i_q (i_{q-1} + 1)`` parameters (:func:`mlp_parameter_count`).

:func:`mlp` builds a member (random weights, PyTorch's default scale), :meth:`MLP.set_parameters`
picks a given member (this is how :mod:`visionkit.lessons.memorize` writes its hand-made network),
and :func:`mlp_formula` evaluates the slide's formula with plain numpy, as the reference the module
is tested against.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .._validate import VisionkitError, describe

__all__ = ["MLP", "mlp", "relu", "mlp_parameter_count", "mlp_formula", "check_dims"]


def relu(t: torch.Tensor) -> torch.Tensor:
    """The course's activation, ``relu(t) = max(t, 0)``, elementwise."""
    return torch.clamp_min(t, 0.0)


def check_dims(dims: Sequence[int]) -> tuple[int, ...]:
    """Check an architecture ``[i_0, i_1, ..., i_Q]`` (at least the input and one layer, all >= 1)."""
    try:
        out = tuple(dims)
    except TypeError:
        raise VisionkitError(f"dims: expected a sequence [i_0, ..., i_Q] of positive ints, got {describe(dims)}") from None
    if len(out) < 2:
        raise VisionkitError(f"dims: expected at least [i_0, i_1] (input size and one layer), got {list(out)}")
    for d in out:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise VisionkitError(f"dims: expected positive ints, got {list(out)}")
    return tuple(int(d) for d in out)


def mlp_parameter_count(dims: Sequence[int]) -> int:
    """Number of real parameters of the family ``dims``: ``sum_{q=1}^{Q} i_q (i_{q-1} + 1)``."""
    dims = check_dims(dims)
    return sum(dims[q] * (dims[q - 1] + 1) for q in range(1, len(dims)))


class MLP(nn.Module):
    """One member of the MLP family ``dims`` (see the module docstring).

    Use :func:`mlp` to build one. ``layers[q-1]`` holds ``A_q`` (``weight``, shape (i_q, i_{q-1}))
    and ``b_q`` (``bias``, shape (i_q,)); the activation is applied after every layer but the last.

    Parameters
    ----------
    dims : sequence of int
        ``[i_0, i_1, ..., i_Q]``.
    activation : callable
        φ, applied elementwise (a function of a tensor or an ``nn.Module``).
    """

    def __init__(self, dims: Sequence[int], *, activation: Callable[[torch.Tensor], torch.Tensor] = relu,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if not callable(activation):
            raise VisionkitError(f"activation: expected a callable such as relu, got {describe(activation)}")
        self.dims = check_dims(dims)
        # skip_init: the weights are drawn by mlp() from its own generator, never from torch's global one
        self.layers = nn.ModuleList(
            torch.nn.utils.skip_init(nn.Linear, self.dims[q - 1], self.dims[q], dtype=dtype)
            for q in range(1, len(self.dims))
        )
        self.activation = activation

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """``f(input)``; input (N, i_0) -> output (N, i_Q)."""
        if input.ndim != 2 or input.shape[1] != self.dims[0]:
            raise VisionkitError(f"input: expected a tensor of shape (N, {self.dims[0]}), got {describe(input)}")
        x = input
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)

    @property
    def parameters_list(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The ``(A_q, b_q)`` pairs as float64 numpy arrays (copies)."""
        return [(lay.weight.detach().double().numpy().copy(), lay.bias.detach().double().numpy().copy())
                for lay in self.layers]

    @torch.no_grad()
    def set_parameters(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> "MLP":
        """Choose the member of the family: ``weights[q-1] = A_q`` (i_q, i_{q-1}), ``biases[q-1] = b_q`` (i_q,)."""
        if len(weights) != len(self.layers) or len(biases) != len(self.layers):
            raise VisionkitError(f"expected {len(self.layers)} weight matrices and biases for dims {list(self.dims)}, "
                                 f"got {len(weights)} and {len(biases)}")
        for q, (lay, a, b) in enumerate(zip(self.layers, weights, biases), start=1):
            a = np.asarray(a)
            b = np.asarray(b)
            if a.shape != tuple(lay.weight.shape) or b.shape != tuple(lay.bias.shape):
                raise VisionkitError(f"A_{q}, b_{q}: expected shapes {tuple(lay.weight.shape)} and {tuple(lay.bias.shape)}, "
                                     f"got {a.shape} and {b.shape}")
            lay.weight.copy_(torch.as_tensor(a, dtype=lay.weight.dtype))
            lay.bias.copy_(torch.as_tensor(b, dtype=lay.bias.dtype))
        return self

    def extra_repr(self) -> str:
        return f"dims={list(self.dims)}, parameters={mlp_parameter_count(self.dims)}"


def mlp(dims: Sequence[int], activation: Callable[[torch.Tensor], torch.Tensor] = relu, *,
        generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> MLP:
    """Build a member of the MLP family ``dims = [i_0, ..., i_Q]`` with random weights.

    Each ``A_q`` and ``b_q`` is drawn uniformly in ``[-1/sqrt(i_{q-1}), 1/sqrt(i_{q-1})]`` (PyTorch's
    default scale for ``nn.Linear``), from ``generator`` only.

    Parameters
    ----------
    dims : sequence of int
        ``[i_0, i_1, ..., i_Q]``; ``i_0`` is the input dimension, ``i_Q`` the output one.
    activation : callable
        φ, default :func:`relu`.
    generator : torch.Generator, optional
        Source of the random weights; a fresh one seeded with 0 when omitted (same call, same net).
    dtype : torch.dtype

    Returns
    -------
    MLP
        An ``nn.Module`` mapping (N, i_0) to (N, i_Q); ``sum(p.numel() for p in net.parameters())``
        equals ``mlp_parameter_count(dims)``.

    Examples
    --------
    >>> net = mlp([2, 4, 1])
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    """
    net = MLP(dims, activation=activation, dtype=dtype)
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for lay in net.layers:
            bound = 1.0 / math.sqrt(lay.in_features)
            for p in (lay.weight, lay.bias):
                p.copy_((torch.rand(p.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound)
    return net


def mlp_formula(x: np.ndarray, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                activation: Callable[[np.ndarray], np.ndarray] = lambda t: np.maximum(t, 0.0)) -> np.ndarray:
    """Evaluate the slide's formula with numpy: ``A_Q φ(... φ(A_1 x + b_1) ...) + b_Q``.

    Parameters
    ----------
    x : ndarray, shape (N, i_0)
    weights, biases : sequences of ``A_q`` (i_q, i_{q-1}) and ``b_q`` (i_q,)

    Returns
    -------
    ndarray, shape (N, i_Q), float64
    """
    h = np.asarray(x, dtype=np.float64).T  # columns are the points: A_1 x + b_1 as written
    for q, (a, b) in enumerate(zip(weights, biases), start=1):
        h = np.asarray(a, dtype=np.float64) @ h + np.asarray(b, dtype=np.float64)[:, None]
        if q < len(weights):
            h = activation(h)
    return h.T
