"""Batch augmentation on the training device: whole tensors (B, C, H, W), never image by image.

* :func:`random_crop_flip`: a random translation of up to ``pad`` pixels (crop of the padded batch)
  and a horizontal flip, per image;
* colour jitter (brightness and contrast) and cutout, for ``augment="strong"``;
* :func:`random_resized_crop`: a random crop of 35-100 % of the area, aspect 3/4 to 4/3, resized back
  (torchvision's ``RandomResizedCrop``, batched), with a flip and colour jitter for ``augment="photo"``:
  what a few hundred photos per class need (Szegedy et al. 2015's scale augmentation);
* :func:`augment_batch`: what a :class:`~visionkit.deep.train.TrainConfig` asks for.

Every draw comes from the ``generator`` passed (on the CPU), so a seed gives the same batches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .._validate import VisionkitError

if TYPE_CHECKING:
    from .train import TrainConfig

__all__ = ["augment_batch", "random_crop_flip", "random_resized_crop"]


def random_crop_flip(x: torch.Tensor, *, pad: int, generator: torch.Generator, flip: bool = True,
                     pad_mode: str = "reflect") -> torch.Tensor:
    """Random ``pad``-pixel translation (crop of the padded batch) and horizontal flip, per image.

    Parameters
    ----------
    x : Tensor, shape (B, C, H, W), float
    pad : int
    generator : torch.Generator
        On the CPU; draws the shifts and flips.

    Returns
    -------
    Tensor, shape (B, C, H, W)
    """
    b, c, h, w = x.shape
    if pad > 0:
        xp = F.pad(x, (pad,) * 4, mode=pad_mode)
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
        rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])  # (B, H)
        cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])  # (B, W)
        xp = xp.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * pad))
        x = xp.gather(3, cols[:, None, None, :].expand(b, c, h, w))
    if flip:
        mask = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x


def _cutout(x: torch.Tensor, generator: torch.Generator, frac: float = 0.5) -> torch.Tensor:
    """Zero one random square of side ``frac * H`` per image (random erasing / cutout)."""
    b, _, h, w = x.shape
    s = max(1, int(round(frac * min(h, w))))
    cy = torch.randint(0, h, (b,), generator=generator).to(x.device)
    cx = torch.randint(0, w, (b,), generator=generator).to(x.device)
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_y = ((ys - cy[:, None] + s // 2) >= 0) & ((ys - cy[:, None] + s // 2) < s)
    in_x = ((xs - cx[:, None] + s // 2) >= 0) & ((xs - cx[:, None] + s // 2) < s)
    box = in_y[:, :, None] & in_x[:, None, :]
    return x.masked_fill(box[:, None], 0.0)


def _colour_jitter(x: torch.Tensor, generator: torch.Generator, amount: float = 0.4) -> torch.Tensor:
    """Brightness / contrast jitter per image, on normalised values: a scale in ``1 +- amount / 2``, then a
    shift in ``+- amount / 2``."""
    b = x.shape[0]
    scale = 1 + amount * (torch.rand(b, 1, 1, 1, generator=generator) - 0.5)
    shift = amount * (torch.rand(b, 1, 1, 1, generator=generator) - 0.5)
    return x * scale.to(x.device) + shift.to(x.device)


def random_resized_crop(x: torch.Tensor, *, generator: torch.Generator, scale: tuple[float, float] = (0.35, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3), flip: bool = True) -> torch.Tensor:
    """A random crop per image of ``scale`` of its area and aspect ``ratio``, resized back to (H, W).

    The batched form of torchvision's ``RandomResizedCrop`` (one affine sampling grid per image,
    bilinear, no loop over images): the crop's area fraction is drawn uniformly in ``scale``, its
    aspect log-uniformly in ``ratio``, and its centre uniformly where the crop fits; a crop that
    would not fit is shrunk until it does.

    Parameters
    ----------
    x : Tensor, shape (B, C, H, W), float
    generator : torch.Generator
        On the CPU; draws the crops and flips.
    scale : (float, float)
        Area fraction range, ``0 < low <= high <= 1``.
    ratio : (float, float)
        Aspect (width / height) range, ``0 < low <= high``.
    flip : bool
        Also flip horizontally with probability 1/2.

    Returns
    -------
    Tensor, shape (B, C, H, W)
    """
    lo, hi = scale
    if not 0 < lo <= hi <= 1 or not 0 < ratio[0] <= ratio[1]:
        raise VisionkitError(f"random_resized_crop: expected 0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= ratio[1], "
                         f"got scale={scale}, ratio={ratio}")
    b = x.shape[0]
    area = lo + (hi - lo) * torch.rand(b, generator=generator, dtype=torch.float64)
    log_r = torch.log(torch.tensor(ratio, dtype=torch.float64))
    aspect = torch.exp(log_r[0] + (log_r[1] - log_r[0]) * torch.rand(b, generator=generator, dtype=torch.float64))
    # half-widths in normalised coordinates ([-1, 1] spans the image): w * h = area, w / h = aspect
    sw = torch.sqrt(area * aspect).clamp(max=1.0)
    sh = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (1 - sw) * (2 * torch.rand(b, generator=generator, dtype=torch.float64) - 1)
    cy = (1 - sh) * (2 * torch.rand(b, generator=generator, dtype=torch.float64) - 1)
    if flip:
        sign = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0).double()
    else:
        sign = torch.ones(b, dtype=torch.float64)
    theta = torch.zeros(b, 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 2] = sw * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = sh, cy
    theta = theta.to(device=x.device, dtype=x.dtype if x.is_floating_point() else torch.float32)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def augment_batch(x: torch.Tensor, config: "TrainConfig", generator: torch.Generator) -> torch.Tensor:
    """Apply ``config.augment`` to a normalised float batch (B, C, H, W)."""
    if config.augment == "none":
        return x
    if config.augment == "photo":
        return _colour_jitter(random_resized_crop(x, generator=generator), generator)
    x = random_crop_flip(x, pad=config.pad, generator=generator, pad_mode=config.pad_mode)
    if config.augment == "strong":
        x = _cutout(_colour_jitter(x, generator), generator)
    return x
