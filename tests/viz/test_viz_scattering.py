"""The scattering filter-bank figure: Sobel's kernels, the Morlet wavelets, a CNN's first layer."""

import numpy as np
import pytest
import torch

from visionkit import VisionkitError
from visionkit.classical.scattering import scattering_filter_bank
from visionkit.viz.scattering import scattering_filters_figure, wavelet_tiles


def _panels(fig):
    out = {}
    for ax in fig.axes:
        ims = ax.get_images()
        if ims:
            out[ax.get_title()] = np.asarray(ims[0].get_array(), dtype=float)
    return out


def test_wavelet_tiles_shape_and_content():
    t = wavelet_tiles(J=2, L=4, crop=9)
    assert t.shape == (2 * 10 + 1, 4 * 10 + 1)
    tiles = np.nan_to_num(t)
    assert np.abs(tiles).max() == pytest.approx(1.0)
    # tile (j=0, theta=1): the wavelet's real part on the centred 9 x 9 window, over its largest |value|
    bank = scattering_filter_bank(18, 18, J=2, L=4)  # the tiles' grid: 2 x crop, padded to 24
    Mp = bank["shape"][0]
    win = np.fft.fftshift(bank["psi"][0, 1].real)[Mp // 2 - 4 : Mp // 2 + 5, Mp // 2 - 4 : Mp // 2 + 5]
    np.testing.assert_allclose(t[1:10, 11:20], win / np.abs(win).max(), atol=1e-6)
    assert t[1 + 4, 11 + 4] == pytest.approx(1.0)  # a Morlet's real part peaks at its centre
    # scales grow down the rows: the second row's wavelets cover more pixels
    spread = [np.count_nonzero(np.abs(np.nan_to_num(t[1 + r * 10 : 1 + r * 10 + 9, 1:10])) > 0.1) for r in range(2)]
    assert spread[1] > spread[0]
    with pytest.raises(VisionkitError, match="part"):
        wavelet_tiles(part="phase")
    with pytest.raises(VisionkitError, match="crop"):
        wavelet_tiles(crop=2)


def test_figure_draws_every_panel_with_given_filters():
    rng = np.random.default_rng(0)
    fig = scattering_filters_figure(J=2, L=6, cnn_filters=torch.tensor(rng.normal(size=(16, 3, 5, 5))), cnn_name="toy", title="t")
    panels = _panels(fig)
    titles = " | ".join(panels)
    for part in ("Sobel Gx | Gy", "Morlet wavelets, real part: 2 scales", "imaginary part", "toy: 16 first-layer filters"):
        assert part in titles
    assert all(np.nanvar(np.ma.filled(np.ma.masked_invalid(a), np.nan)) > 0 for a in panels.values())
    assert len(_panels(scattering_filters_figure(J=1, L=4, cnn_filters=None))) == 3
    with pytest.raises(VisionkitError, match="cnn_filters"):
        scattering_filters_figure(cnn_filters=np.zeros((3, 3)))
    with pytest.raises(VisionkitError, match="cnn_filters"):
        scattering_filters_figure(cnn_filters="resnet")


def test_figure_with_the_pretrained_first_layer():
    fig = scattering_filters_figure(J=3, L=8)
    assert any("EfficientNet-Lite0 (ImageNet): 32 first-layer filters" in t for t in _panels(fig))
