"""The 2-D scattering transform (Bruna & Mallat 2013): fixed Morlet wavelets, modulus, averaging.

A scattering network is a convolutional network whose filters nobody learned: a bank of Morlet
wavelets ``psi_{j, theta}`` (``J`` scales, ``L`` orientations) and a Gaussian low-pass ``phi_J``
of width ``2^J``. With ``*`` the convolution,

* order 0: ``S0 x = x * phi_J``
* order 1: ``S1 x (j1, t1) = |x * psi_{j1, t1}| * phi_J``
* order 2: ``S2 x (j1, t1, j2, t2) = ||x * psi_{j1, t1}| * psi_{j2, t2}| * phi_J`` for ``j2 > j1``

each subsampled by ``2^J``: ``K = 1 + J L + L^2 J (J - 1) / 2`` maps of size ``H / 2^J x W / 2^J``
per input channel, stable to small deformations and invariant to translations up to ``2^J``.

The definition is kymatio's (``kymatio.scattering2d``, Andreux et al. 2020), coefficient for
coefficient, in the same order: the same filters (Morlet ``sigma = 0.8 * 2^j``, ``xi = 3 pi / 4 /
2^j``, slant ``4 / L``, angles ``(L / 2 - 1 - t) pi / L``; Gaussian ``phi`` with ``sigma = 0.8 *
2^(J - 1)``), built periodised on the padded grid and applied in the Fourier domain, the same
reflect padding to a multiple of ``2^J`` plus one ``2^J`` margin, and the same subsampling in
Fourier (periodisation of the spectrum). It differs in the computation: the filters are built in
float64 by vectorised functions, all the wavelets of one scale are applied to a batch at once,
and ``|.|`` is torch's complex modulus (differentiable, subgradient 0 at 0).

* :func:`morlet_2d`, :func:`gabor_2d`, :func:`scattering_filter_bank`: the filters (numpy, pure).
* :func:`scattering2d`: the transform of a ``(B, C, H, W)`` tensor (pure function).
* :class:`Scattering2D`: an ``nn.Module`` holding ``J, L, max_order`` and calling it.
* :class:`ScatteringFeatures`: a scikit-learn transformer from harness images to feature vectors.

References
----------
J. Bruna and S. Mallat, "Invariant scattering convolution networks", IEEE TPAMI 35(8), 2013.
E. Oyallon and S. Mallat, "Deep roto-translation scattering for object classification", CVPR 2015.
M. Andreux et al., "Kymatio: scattering transforms in Python", JMLR 21(60), 2020.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._validate import VisionkitError, check_positive, describe
from .preprocessing import _ImageInput

__all__ = [
    "gabor_2d",
    "morlet_2d",
    "scattering_filter_bank",
    "scattering_padding",
    "scattering_channels",
    "scattering_batch",
    "SCATTERING_BATCH_BYTES",
    "scattering_paths",
    "scattering2d",
    "Scattering2D",
    "ScatteringFeatures",
    "rgb_to_yuv",
]


# ----------------------------------------------------------------------------------- filters
def gabor_2d(M: int, N: int, sigma: float, theta: float, xi: float, *, slant: float = 1.0) -> np.ndarray:
    """A Gabor filter on an ``M x N`` periodic grid, origin at pixel (0, 0).

    ``g(u) = exp(-u^T R D R^T u / (2 sigma^2) + i xi (u_0 cos theta + u_1 sin theta)) / (2 pi sigma^2 / slant)``
    with ``R`` the rotation by ``theta`` and ``D = diag(1, slant^2)``, summed over the 5 x 5 nearest
    periods (the periodisation kymatio uses).

    Parameters
    ----------
    M, N : int
        Grid size (rows, columns).
    sigma : float
        Width of the Gaussian envelope, pixels.
    theta : float
        Orientation, radians.
    xi : float
        Centre frequency, radians per pixel (0 gives a Gaussian).
    slant : float
        Ratio of the envelope's widths across and along ``theta`` (< 1: elongated across).

    Returns
    -------
    ndarray, shape (M, N), complex128
    """
    c, s = math.cos(theta), math.sin(theta)
    R = np.array([[c, -s], [s, c]])
    curv = R @ np.diag([1.0, slant * slant]) @ R.T / (2.0 * sigma * sigma)
    offs = np.arange(-2, 3)
    xx = (np.arange(M)[None, :] + offs[:, None] * M).astype(np.float64)[:, None, :, None]  # (5, 1, M, 1)
    yy = (np.arange(N)[None, :] + offs[:, None] * N).astype(np.float64)[None, :, None, :]  # (1, 5, 1, N)
    arg = -(curv[0, 0] * xx * xx + (curv[0, 1] + curv[1, 0]) * xx * yy + curv[1, 1] * yy * yy) + 1j * xi * (c * xx + s * yy)
    # kymatio writes pi as 3.1415 here; kept, so its filters and ours agree to float rounding
    return np.exp(arg).sum(axis=(0, 1)) / (2 * 3.1415 * sigma * sigma / slant)


def morlet_2d(M: int, N: int, sigma: float, theta: float, xi: float, *, slant: float = 0.5) -> np.ndarray:
    """A Morlet wavelet: a Gabor filter minus the Gaussian that makes its sum exactly zero.

    ``psi = gabor(xi) - K gabor(0)`` with ``K = sum(gabor(xi)) / sum(gabor(0))`` (admissibility:
    ``psi_hat(0) = 0``). Same parameters as :func:`gabor_2d`.

    Returns
    -------
    ndarray, shape (M, N), complex128
    """
    wv = gabor_2d(M, N, sigma, theta, xi, slant=slant)
    env = gabor_2d(M, N, sigma, theta, 0.0, slant=slant)
    return wv - (wv.sum() / env.sum()) * env


def _periodize_fft(x: np.ndarray, res: int) -> np.ndarray:
    """A spectrum for the grid subsampled by ``2^res``: the frequencies above the new Nyquist band
    are cut and the rest folded (aliased) onto ``(M / 2^res, N / 2^res)``, as kymatio's
    ``periodize_filter_fft``."""
    if res == 0:
        return x.copy()
    M, N = x.shape
    k = 2**res
    mask = np.ones(x.shape)
    start_x, len_x = int(M * 2 ** (-res - 1)), int(M * (1 - 2 ** (-res)))
    start_y, len_y = int(N * 2 ** (-res - 1)), int(N * (1 - 2 ** (-res)))
    mask[start_x : start_x + len_x, :] = 0
    mask[:, start_y : start_y + len_y] = 0
    return (x * mask).reshape(k, M // k, k, N // k).sum(axis=(0, 2))


@functools.lru_cache(maxsize=32)
def _filter_bank_cached(M: int, N: int, J: int, L: int) -> dict:
    psi_hat = np.empty((J, L, M, N))
    for j in range(J):
        for t in range(L):
            theta = (int(L - L / 2 - 1) - t) * np.pi / L
            psi = morlet_2d(M, N, 0.8 * 2**j, theta, 3.0 / 4.0 * np.pi / 2**j, slant=4.0 / L)
            psi_hat[j, t] = np.fft.fft2(psi).real  # psi(-u) = conj(psi(u)): the spectrum is real
    phi_hat = np.fft.fft2(gabor_2d(M, N, 0.8 * 2 ** (J - 1), 0.0, 0.0)).real
    bank = {
        # psi[j][res]: the L wavelets of scale j on the grid subsampled by 2^res (res <= j), (L, M/2^res, N/2^res)
        "psi": [[np.stack([_periodize_fft(psi_hat[j, t], r) for t in range(L)]) for r in range(j + 1)] for j in range(J)],
        # phi[res]: (M/2^res, N/2^res), res = 0 .. J-1
        "phi": [_periodize_fft(phi_hat, r) for r in range(J)],
    }
    for a in [*bank["phi"], *(lev for levels in bank["psi"] for lev in levels)]:
        a.setflags(write=False)
    return bank


def _check_int(value: Any, name: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise VisionkitError(f"{name}: expected an integer >= {low}, got {value!r} ({type(value).__name__})")
    if value < low:
        raise VisionkitError(f"{name}: expected an integer >= {low}, got {value}")
    return int(value)


def _check_params(J: Any, L: Any, max_order: Any) -> tuple[int, int, int]:
    J = _check_int(J, "J", low=1)
    L = _check_int(L, "L", low=1)
    if isinstance(max_order, bool) or max_order not in (1, 2):
        raise VisionkitError(f"max_order: expected 1 or 2, got {max_order!r}")
    return J, L, int(max_order)


def scattering_padding(H: int, W: int, J: int) -> tuple[int, int, int, int]:
    """The reflect padding of an ``H x W`` image: ``(top, bottom, left, right)``.

    The padded size is ``((H + 2^J) // 2^J + 1) 2^J`` (a multiple of ``2^J`` with a ``2^J``
    margin; kymatio's ``compute_padding``), split evenly, the odd pixel at the bottom / right.
    """
    J = _check_int(J, "J", low=1)
    k = 2**J
    Mp, Np = ((H + k) // k + 1) * k, ((W + k) // k + 1) * k
    return (Mp - H) // 2, (Mp - H + 1) // 2, (Np - W) // 2, (Np - W + 1) // 2


def scattering_filter_bank(H: int, W: int, *, J: int, L: int = 8) -> dict[str, Any]:
    """The Morlet filter bank of the scattering transform of ``H x W`` images, in Fourier and in space.

    Parameters
    ----------
    H, W : int
        Image size (at least ``2^J``); the filters live on the padded grid
        (:func:`scattering_padding`).
    J : int
        Number of scales (>= 1); the low-pass averages over ``2^J`` pixels.
    L : int
        Number of orientations (>= 1), spread over ``[0, pi)``.

    Returns
    -------
    dict with
        ``psi_hat``: ndarray (J, L, Mp, Np), float64, the wavelets' spectra (real);
        ``phi_hat``: ndarray (Mp, Np), the low-pass's spectrum;
        ``psi``: ndarray (J, L, Mp, Np), complex128, the wavelets in space, origin at (0, 0);
        ``phi``: ndarray (Mp, Np), the low-pass in space;
        ``j``, ``theta``: ndarray (J, L), the scale and angle (radians) of each wavelet;
        ``shape``: (Mp, Np), the padded size.
    """
    J = _check_int(J, "J", low=1)
    L = _check_int(L, "L", low=1)
    H = _check_int(H, "H", low=2**J)
    W = _check_int(W, "W", low=2**J)
    t, b, l, r = scattering_padding(H, W, J)
    Mp, Np = H + t + b, W + l + r
    bank = _filter_bank_cached(Mp, Np, J, L)
    psi_hat = np.stack([bank["psi"][j][0] for j in range(J)])
    phi_hat = bank["phi"][0].copy()
    thetas = np.array([(int(L - L / 2 - 1) - t_) * np.pi / L for t_ in range(L)])
    return {
        "psi_hat": psi_hat,
        "phi_hat": phi_hat,
        "psi": np.fft.ifft2(psi_hat),
        "phi": np.fft.ifft2(phi_hat),
        "j": np.repeat(np.arange(J)[:, None], L, axis=1),
        "theta": np.repeat(thetas[None, :], J, axis=0),
        "shape": (Mp, Np),
    }


def scattering_channels(J: int, L: int = 8, max_order: int = 2) -> int:
    """Number of scattering maps per input channel: ``1 + J L (+ L^2 J (J - 1) / 2 for order 2)``."""
    J, L, max_order = _check_params(J, L, max_order)
    return 1 + J * L + (L * L * J * (J - 1) // 2 if max_order == 2 else 0)


def scattering_paths(J: int, L: int = 8, max_order: int = 2) -> list[tuple[tuple[int, int], ...]]:
    """The path of each output map, in output order: ``()``, ``((j1, t1),)``, ``((j1, t1), (j2, t2))``."""
    J, L, max_order = _check_params(J, L, max_order)
    paths: list[tuple[tuple[int, int], ...]] = [()]
    paths += [((j1, t1),) for j1 in range(J) for t1 in range(L)]
    if max_order == 2:
        paths += [((j1, t1), (j2, t2)) for j1 in range(J) for t1 in range(L) for j2 in range(j1 + 1, J) for t2 in range(L)]
    return paths


# ------------------------------------------------------------------------------- transform
def _reflect_index(n: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    """Indices of a reflect-101 extension (``dcb|abcd|cba``) of length ``n`` by ``before`` and ``after``,
    valid for pads up to ``n`` (torch's ``reflect`` mode stops at ``n - 1``)."""
    i = torch.arange(-before, n + after, device=device)
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = torch.remainder(i, period)
    return torch.where(i >= n, period - i, i)


def _filter_subsample(u_hat: torch.Tensor, filt: torch.Tensor, k: int) -> torch.Tensor:
    """``u_hat * filt`` (broadcast), then the spectrum of that signal subsampled by ``k``.

    Subsampling by ``k`` in space is, in Fourier, the mean of the ``k x k`` aliased blocks of the
    spectrum (kymatio's ``subsample_fourier``). The product is accumulated block by block, so the
    full-size product (``L x L`` times the batch for order 2) is never held, and no strided
    reduction over complex numbers runs (a reshape + ``mean`` was half the transform's time).
    The filters' spectra are real and multiply the complex spectrum directly: the same numbers as
    a product of its ``(re, im)`` view with the filter, at twice the speed (measured on 2 cores:
    the view's trailing axis of 2 broadcast against a stride-0 filter axis is a slow path).
    """
    M, N = u_hat.shape[-2:]
    if k == 1:
        return u_hat * filt
    m, n = M // k, N // k
    acc = None
    for p in range(k):
        for q in range(k):
            term = u_hat[..., p * m : (p + 1) * m, q * n : (q + 1) * n] * filt[..., p * m : (p + 1) * m, q * n : (q + 1) * n]
            acc = term if acc is None else acc.add_(term)
    return acc.div_(k * k)


def _filters_torch(Mp: int, Np: int, J: int, L: int, dtype: torch.dtype, device: torch.device) -> dict:
    bank = _filter_bank_cached(Mp, Np, J, L)
    to = functools.partial(torch.tensor, dtype=dtype, device=device)  # a copy: the cached arrays are read-only
    return {"psi": [[to(lev) for lev in levels] for levels in bank["psi"]], "phi": [to(p) for p in bank["phi"]]}


def _check_input(input: Any, J: int) -> None:
    if not isinstance(input, torch.Tensor):
        raise VisionkitError(f"input: expected a torch.Tensor of shape (B, C, H, W), got {describe(input)}")
    if input.ndim != 4:
        raise VisionkitError(f"input: expected shape (B, C, H, W) (4-D), got {input.ndim}-D with shape {tuple(input.shape)}")
    if input.dtype not in (torch.float32, torch.float64):
        raise VisionkitError(f"input: expected a float32 or float64 tensor, got dtype {input.dtype} (convert images first, e.g. uint8 / 255)")
    if input.numel() == 0:
        raise VisionkitError(f"input: expected a non-empty tensor, got shape {tuple(input.shape)}")
    H, W = input.shape[-2:]
    if H < 2**J or W < 2**J:
        raise VisionkitError(f"input: expected H and W >= 2^J = {2**J} (J={J}), got H={H}, W={W}")


def scattering2d(input: torch.Tensor, *, J: int, L: int = 8, max_order: int = 2, _filters: dict | None = None) -> torch.Tensor:
    """The 2-D scattering transform of a batch (Bruna & Mallat 2013; kymatio's definition).

    Parameters
    ----------
    input : Tensor, shape (B, C, H, W), float32 or float64, on any device
        Each channel is transformed on its own. ``H, W >= 2^J``.
    J : int
        Number of scales (>= 1): invariance to translations up to ``2^J`` pixels, output
        subsampled by ``2^J``.
    L : int
        Number of orientations (>= 1; the filters are designed for 8).
    max_order : {1, 2}

    Returns
    -------
    Tensor, shape (B, C, K, H // 2^J, W // 2^J), the input's dtype and device
        ``K = scattering_channels(J, L, max_order)`` maps per channel, ordered as
        :func:`scattering_paths` (order 0, then order 1 by ``(j1, theta1)``, then order 2 by
        ``(j1, theta1, j2, theta2)`` with ``j2 > j1``), as kymatio orders them.

    Examples
    --------
    >>> x = torch.rand(2, 3, 32, 32)
    >>> scattering2d(x, J=2, L=8).shape
    torch.Size([2, 3, 81, 8, 8])
    """
    J, L, max_order = _check_params(J, L, max_order)
    _check_input(input, J)
    B, C, H, W = input.shape
    top, bottom, left, right = scattering_padding(H, W, J)
    Mp, Np = H + top + bottom, W + left + right
    filt = _filters if _filters is not None else _filters_torch(Mp, Np, J, L, input.dtype, input.device)
    psi, phi = filt["psi"], filt["phi"]
    k = 2**J
    ho, wo = H // k, W // k

    x = input.reshape(B * C, H, W)
    rows = _reflect_index(H, top, bottom, x.device)
    cols = _reflect_index(W, left, right, x.device)
    x = x[:, rows][:, :, cols]  # (n, Mp, Np)
    x_hat = torch.fft.fft2(x)

    def low_pass(u_hat: torch.Tensor, res: int) -> torch.Tensor:
        # u_hat at resolution 2^res -> averaged by phi, subsampled to 2^J, one pixel of margin removed
        s = torch.fft.ifft2(_filter_subsample(u_hat, phi[res], 2 ** (J - res))).real
        return s[..., 1 : 1 + ho, 1 : 1 + wo]

    out = [low_pass(x_hat, 0)[:, None]]  # (n, 1, ho, wo)
    order2 = []
    for j1 in range(J):
        # all L orientations of scale j1 at once: (n, L, Mp / 2^j1, Np / 2^j1)
        u1 = torch.fft.ifft2(_filter_subsample(x_hat[:, None], psi[j1][0], 2**j1)).abs()
        u1_hat = torch.fft.fft2(u1)
        out.append(low_pass(u1_hat, j1))
        if max_order < 2 or j1 == J - 1:
            continue
        per_j2 = []
        for j2 in range(j1 + 1, J):
            # (n, L1, L2, ...): every orientation pair of (j1, j2)
            u2 = torch.fft.ifft2(_filter_subsample(u1_hat[:, :, None], psi[j2][j1], 2 ** (j2 - j1))).abs()
            per_j2.append(low_pass(torch.fft.fft2(u2), j2))
        order2.append(torch.cat(per_j2, dim=2).flatten(1, 2))  # theta1-major, then (j2, theta2)
    s = torch.cat(out + order2, dim=1)
    return s.reshape(B, C, s.shape[1], ho, wo)


class Scattering2D(nn.Module):
    """:func:`scattering2d` as a module: holds ``J, L, max_order`` and its filters for one input size.

    The filters are built on the first call for each input size and cached (per size, dtype and
    device; ``Module.to`` needs nothing to move). Parameters as :func:`scattering2d`.

    Examples
    --------
    >>> S = Scattering2D(J=2, L=8)
    >>> S(torch.rand(4, 1, 32, 32)).shape
    torch.Size([4, 1, 81, 8, 8])
    """

    def __init__(self, *, J: int = 2, L: int = 8, max_order: int = 2) -> None:
        super().__init__()
        self.J, self.L, self.max_order = _check_params(J, L, max_order)
        self._cache: dict = {}

    @property
    def n_channels(self) -> int:
        """Maps per input channel (``K``)."""
        return scattering_channels(self.J, self.L, self.max_order)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        _check_input(input, self.J)
        H, W = input.shape[-2:]
        t, b, l, r = scattering_padding(H, W, self.J)
        key = (H + t + b, W + l + r, input.dtype, input.device)
        if key not in self._cache:
            self._cache[key] = _filters_torch(key[0], key[1], self.J, self.L, input.dtype, input.device)
        return scattering2d(input, J=self.J, L=self.L, max_order=self.max_order, _filters=self._cache[key])

    def extra_repr(self) -> str:
        return f"J={self.J}, L={self.L}, max_order={self.max_order}"


# ------------------------------------------------------------------- scikit-learn transformer
#: Upper bound on the intermediate maps of one :class:`ScatteringFeatures` batch: ``batch_size`` is cut
#: so that a batch stays under it (photos at 128 px and J = 4 take ~35 MB an image; 256 of them peaked at
#: 9.9 GB, 32 at 2.1 GB). The coefficients do not depend on the batch.
SCATTERING_BATCH_BYTES = 1 << 30


def scattering_batch(batch_size: int, *, size: tuple[int, int], J: int, L: int, n_channels: int,
                     itemsize: int = 4, budget: int = SCATTERING_BATCH_BYTES) -> int:
    """Images per batch: ``batch_size``, cut so that the batch's intermediate maps fit in ``budget`` bytes.

    The estimate scales the measured ~35 MB an image (128 x 128, J = 4, L = 8, 3 channels, float32) with
    the pixels, ``J x L`` first-order maps, the channels and the item size.
    """
    per_image = 35e6 * (size[0] * size[1] / 128**2) * (J * L / 32) * (n_channels / 3) * (itemsize / 4)
    return int(max(1, min(int(batch_size), budget // max(per_image, 1.0))))


#: RGB -> YUV (BT.601), as Oyallon & Mallat (2015) scatter the luminance and the two colour differences
_YUV = np.array([[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]], np.float32)


def rgb_to_yuv(images: np.ndarray) -> np.ndarray:
    """RGB (..., 3) on [0, 1] to YUV (BT.601): ``Y`` on [0, 1], ``U, V`` centred on 0.

    Parameters
    ----------
    images : ndarray (..., 3), float

    Returns
    -------
    ndarray (..., 3), float32
    """
    images = np.asarray(images)
    if images.ndim < 1 or images.shape[-1] != 3:
        raise VisionkitError(f"images: expected a last axis of 3 (RGB), got {describe(images)}")
    return (images.astype(np.float32) @ _YUV.T).astype(np.float32)


class ScatteringFeatures(_ImageInput, TransformerMixin, BaseEstimator):
    """Scattering coefficients of harness images as feature vectors (one row per image).

    Images (uint8 (N, H, W, C), or a list of (H, W[, C]) arrays of any sizes and channel counts)
    are brought to ``channels`` and resized to ``size``, then transformed in batches of
    ``batch_size`` by :func:`scattering2d` on each channel and flattened to
    ``C * K * (H / 2^J) * (W / 2^J)`` values.

    Parameters
    ----------
    J : int or tuple of int
        As :func:`scattering2d`. A tuple of distinct scales, e.g. ``(2, 3)``, concatenates the
        flattened coefficients of each ``J`` in its order (a multiscale representation: ``J = 2``
        keeps an ``8 x 8`` grid of a CIFAR-10 image, ``J = 3`` adds the wavelets of the next octave
        averaged over ``4 x 4`` cells); each is computed as with that ``J`` alone.
    L, max_order : int
        As :func:`scattering2d`.
    size : (H, W)
        Every image is resized to this (area when shrinking, bilinear when enlarging).
    channels : {"gray", "rgb", "yuv"}
        The channels scattered: BT.709 luminance, RGB, or YUV (Oyallon & Mallat 2015).
    normalize : {"none", "log", "sqrt"}
        Applied to the coefficients: ``log(eps + |S|)`` (the log-scattering of Oyallon et al.;
        it turns products of contrast into sums), ``sqrt(|S|)``, or nothing. Order 0 of
        ``"yuv"`` may be negative (U, V), so ``|S|`` carries its sign back for it.
    eps : float
        The ``eps`` of ``"log"`` (images on [0, 1]).
    batch_size : int or None
        Images per batch at most: cut further so that a batch's intermediate maps stay under
        :data:`SCATTERING_BATCH_BYTES` (1 GiB; :func:`scattering_batch`), the same coefficients either way.
        ``None``: 8 on the CPU, where small batches keep the maps in the caches (32 x 32 images, 2 cores:
        633 images/s for ``J=2`` and 254 for ``J=3`` in batches of 8, 273 and 119 in batches of 256),
        and 256 on a GPU.
    device : str
        ``"cpu"`` or a CUDA device.
    dtype : {"float32", "float64"}
    progress : bool
        Show a tqdm bar over batches.

    Attributes
    ----------
    n_features_out_ : int
    """

    def __init__(
        self,
        *,
        J: int | tuple[int, ...] = 2,
        L: int = 8,
        max_order: int = 2,
        size: tuple[int, int] = (32, 32),
        channels: Literal["gray", "rgb", "yuv"] = "yuv",
        normalize: Literal["none", "log", "sqrt"] = "log",
        eps: float = 1e-3,
        batch_size: int | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        progress: bool = False,
    ) -> None:
        self.J = J
        self.L = L
        self.max_order = max_order
        self.size = size
        self.channels = channels
        self.normalize = normalize
        self.eps = eps
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.progress = progress

    def _scales(self) -> tuple[int, ...]:
        """``J`` as a tuple of scales (checked)."""
        if isinstance(self.J, (tuple, list)):
            if not self.J:
                raise VisionkitError("J: expected an integer >= 1 or a non-empty tuple of them, got an empty "
                                     f"{type(self.J).__name__}")
            Js = tuple(_check_int(j, "J", low=1) for j in self.J)
            if len(set(Js)) != len(Js):
                raise VisionkitError(f"J: expected distinct scales, got {tuple(self.J)!r}")
            return Js
        return (_check_int(self.J, "J", low=1),)

    def _check(self) -> tuple[tuple[int, ...], int, int, tuple[int, int]]:
        Js = self._scales()
        J = max(Js)
        _, L, max_order = _check_params(J, self.L, self.max_order)
        if self.channels not in ("gray", "rgb", "yuv"):
            raise VisionkitError(f"channels: expected 'gray', 'rgb' or 'yuv', got {self.channels!r}")
        if self.normalize not in ("none", "log", "sqrt"):
            raise VisionkitError(f"normalize: expected 'none', 'log' or 'sqrt', got {self.normalize!r}")
        if self.dtype not in ("float32", "float64"):
            raise VisionkitError(f"dtype: expected 'float32' or 'float64', got {self.dtype!r}")
        check_positive(self.eps, "eps")
        if self.batch_size is not None:
            check_positive(self.batch_size, "batch_size", integer=True)
        try:
            size = (int(self.size[0]), int(self.size[1]))
        except (TypeError, IndexError, ValueError):
            raise VisionkitError(f"size: expected (H, W), got {self.size!r}") from None
        if len(self.size) != 2 or min(size) < 2**J:
            raise VisionkitError(f"size: expected (H, W) with H, W >= 2^J = {2**J}, got {self.size!r}")
        return Js, L, max_order, size

    def fit(self, X: Any, y: Any = None) -> "ScatteringFeatures":
        from .preprocessing import as_image_list

        Js, L, max_order, size = self._check()
        as_image_list(X, name="X")
        n_ch = 1 if self.channels == "gray" else 3
        self.n_features_out_ = sum(self._widths(Js, L, max_order, size, n_ch))
        return self

    @staticmethod
    def _widths(Js: tuple[int, ...], L: int, max_order: int, size: tuple[int, int], n_ch: int) -> list[int]:
        return [n_ch * scattering_channels(J, L, max_order) * (size[0] // 2**J) * (size[1] // 2**J) for J in Js]

    def _images(self, X: Any) -> np.ndarray:
        from .preprocessing import prepare_images

        imgs = prepare_images(X, channels="gray" if self.channels == "gray" else "rgb", size=tuple(self.size))
        x = imgs.astype(np.float32) / 255.0
        if self.channels == "gray":
            return x[:, None]
        if self.channels == "yuv":
            x = rgb_to_yuv(x)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def transform(self, X: Any) -> np.ndarray:
        """Features of ``X``: ndarray (N, n_features_out_), float32 (float64 with ``dtype="float64"``)."""
        from .._progress import progress_bar

        check_is_fitted(self, "n_features_out_")
        Js, L, max_order, size = self._check()
        n_ch = 1 if self.channels == "gray" else 3
        widths = self._widths(Js, L, max_order, size, n_ch)
        if sum(widths) != self.n_features_out_:
            raise VisionkitError(f"J, L, max_order or size changed since fit: {sum(widths)} features, "
                                 f"fitted for {self.n_features_out_}; fit again")
        x = self._images(X)
        dt = torch.float32 if self.dtype == "float32" else torch.float64
        device = torch.device(self.device)
        out = np.empty((len(x), self.n_features_out_), dtype=np.float32 if self.dtype == "float32" else np.float64)
        start = 0
        for J, width in zip(Js, widths):
            module = Scattering2D(J=J, L=L, max_order=max_order)
            bs = scattering_batch(self._batch_size(device), size=size, J=J, L=L, n_channels=n_ch,
                                  itemsize=4 if self.dtype == "float32" else 8)
            with torch.no_grad():
                for i in progress_bar(range(0, len(x), bs), desc=f"scattering J={J}", unit="batch", force=self.progress):
                    s = module(torch.from_numpy(x[i : i + bs]).to(device=device, dtype=dt))
                    if self.normalize != "none":
                        sign = torch.sign(s)
                        sign[:, :, 1:] = 1  # orders 1 and 2 are averages of moduli (>= 0 up to rounding)
                        a = s.abs()
                        s = sign * (torch.log(a + self.eps) - math.log(self.eps) if self.normalize == "log" else a.sqrt())
                    out[i : i + bs, start : start + width] = s.reshape(len(s), -1).cpu().numpy()
            start += width
        return out

    def _batch_size(self, device: torch.device) -> int:
        if self.batch_size is not None:
            return int(self.batch_size)
        return 8 if device.type == "cpu" else 256

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # images in (_ImageInput)
        tags.requires_fit = True
        return tags
