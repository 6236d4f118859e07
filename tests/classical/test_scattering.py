"""The 2-D scattering transform: filters, known answers, kymatio, dtypes, devices, bad inputs, estimators.

kymatio 0.3.0 is the reference. Its top-level ``kymatio.torch`` does not import with SciPy >= 1.15
(its 3-D scattering imports ``scipy.special.sph_harm``, removed), so the 2-D frontend and filter
bank are imported from their own modules, which work with numpy 2 / torch 2.14. The transform has
no randomness (fixed filters), so there is no seed to test; the random inputs below are seeded.
"""

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from visionkit import VisionkitError, registry
from visionkit.classical.scattering import (
    Scattering2D,
    ScatteringFeatures,
    gabor_2d,
    morlet_2d,
    rgb_to_yuv,
    scattering2d,
    scattering_channels,
    scattering_filter_bank,
    scattering_padding,
    scattering_paths,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

try:  # the 2-D parts of kymatio, without kymatio.torch (see the module docstring)
    from kymatio.scattering2d.filter_bank import filter_bank as kymatio_filter_bank
    from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D as KymatioScattering2D
except ImportError:  # pragma: no cover - kymatio is in the dev extra
    KymatioScattering2D = None

needs_kymatio = pytest.mark.skipif(KymatioScattering2D is None, reason="kymatio is not installed (pip install kymatio)")


def _rand(*shape, dtype=torch.float64, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------------- filters
def test_morlet_has_zero_mean_and_real_spectrum():
    psi = morlet_2d(40, 40, 0.8, np.pi / 4, 3 * np.pi / 4, slant=0.5)
    assert abs(psi.sum()) < 1e-12  # admissibility: psi_hat(0) = 0
    spec = np.fft.fft2(psi)
    assert np.abs(spec.imag).max() < 1e-12 * np.abs(spec).max()  # psi(-u) = conj(psi(u))
    # the spectrum peaks near xi in the direction theta
    peak = np.unravel_index(np.abs(spec).argmax(), spec.shape)
    freq = np.array([np.fft.fftfreq(40)[peak[0]], np.fft.fftfreq(40)[peak[1]]]) * 2 * np.pi
    np.testing.assert_allclose(freq, 3 * np.pi / 4 * np.array([np.cos(np.pi / 4), np.sin(np.pi / 4)]), atol=2 * np.pi / 40)


def test_gabor_without_frequency_is_a_normalised_gaussian():
    g = gabor_2d(64, 64, 3.0, 0.0, 0.0)
    assert np.abs(g.imag).max() == 0
    assert g.real.sum() == pytest.approx(np.pi / 3.1415, rel=1e-6)  # kymatio's 3.1415 for pi
    assert g.real.argmax() == 0  # centred at the origin (periodic)


@pytest.mark.parametrize("J,L", [(1, 8), (2, 8), (3, 8), (4, 6), (3, 4)])
def test_filter_bank_admissibility_and_littlewood_paley(J, L):
    fb = scattering_filter_bank(64, 64, J=J, L=L)
    ps, ph = fb["psi_hat"], fb["phi_hat"]
    Mp, Np = fb["shape"]
    assert ps.shape == (J, L, Mp, Np) and ph.shape == (Mp, Np) and (Mp, Np) == (64 + sum(scattering_padding(64, 64, J)[:2]),) * 2
    assert np.abs(ps[:, :, 0, 0]).max() < 1e-12  # every wavelet has zero mean
    assert ph[0, 0] == pytest.approx(1.0, abs=1e-4)  # the low-pass keeps the mean
    # Littlewood-Paley sum for real signals (psi_hat(w) and psi_hat(-w) both count): bounded, so the
    # wavelet transform is non-expansive; the design gives 1 +- 5 % up to the highest corner frequencies
    energy = (ps**2).sum(axis=(0, 1))
    lp = ph**2 + 0.5 * (energy + np.roll(np.flip(energy, (0, 1)), 1, (0, 1)))
    assert lp.max() <= 1.05
    assert lp.min() > (0.1 if L == 8 else 0.05)  # the design is tuned for L = 8
    assert np.abs(fb["psi"] - np.fft.ifft2(ps)).max() == 0
    np.testing.assert_allclose(fb["theta"][0], [(L // 2 - 1 - t) * np.pi / L for t in range(L)])


@needs_kymatio
@pytest.mark.parametrize("M,N,J,L", [(40, 40, 2, 8), (48, 40, 3, 8), (24, 24, 1, 4), (64, 48, 4, 6)])
def test_filter_bank_equals_kymatio(M, N, J, L):
    ref = kymatio_filter_bank(M, N, J, L)
    from visionkit.classical.scattering import _filter_bank_cached

    ours = _filter_bank_cached(M, N, J, L)
    for n, p in enumerate(ref["psi"]):
        j, t = divmod(n, L)
        assert (p["j"], p["theta"]) == (j, t)
        for res, level in enumerate(p["levels"]):  # kymatio keeps only the resolutions it uses
            np.testing.assert_allclose(ours["psi"][j][res][t], level, atol=1e-6)
    for res, level in enumerate(ref["phi"]["levels"]):
        np.testing.assert_allclose(ours["phi"][res], level, atol=1e-6)


# ------------------------------------------------------------------------ known answers
def test_output_shape_channels_and_paths():
    for J, L, order in [(1, 8, 2), (2, 8, 2), (3, 8, 2), (3, 4, 1), (4, 6, 2)]:
        K = scattering_channels(J, L, order)
        assert K == 1 + J * L + (L * L * J * (J - 1) // 2 if order == 2 else 0)
        assert len(scattering_paths(J, L, order)) == K
        s = scattering2d(_rand(2, 3, 37, 2**J + 35), J=J, L=L, max_order=order)
        assert s.shape == (2, 3, K, 37 // 2**J, (2**J + 35) // 2**J)
    assert scattering_paths(2, 2)[:4] == [(), ((0, 0),), ((0, 1),), ((1, 0),)]
    assert scattering_paths(2, 2)[5] == ((0, 0), (1, 0))


@pytest.mark.parametrize("J", [1, 2, 3])
def test_constant_image(J):
    c = torch.full((1, 2, 32, 32), 0.7, dtype=torch.float64)
    c[:, 1] = 0.2
    s = scattering2d(c, J=J, L=8)
    dc = scattering_filter_bank(32, 32, J=J)["phi_hat"][0, 0]  # the low-pass's gain at frequency 0 (~1)
    assert dc == pytest.approx(1.0, abs=0.01)
    torch.testing.assert_close(s[0, 0, 0], torch.full_like(s[0, 0, 0], 0.7 * dc), rtol=1e-9, atol=0)  # order 0: c * phi_hat(0)
    torch.testing.assert_close(s[0, 1, 0], torch.full_like(s[0, 1, 0], 0.2 * dc), rtol=1e-9, atol=0)
    assert s[:, :, 1:].abs().max() < 1e-12  # a constant has no variation for any wavelet to see


def test_order1_sees_orientation():
    """Vertical stripes (varying along the columns) answer the wavelet whose frequency points along the columns."""
    yy, xx = np.mgrid[:64, :64]
    stripes = torch.tensor(0.5 + 0.5 * np.cos(3 * np.pi / 4 * xx), dtype=torch.float64)[None, None]
    s = scattering2d(stripes, J=2, L=8, max_order=1)[0, 0, 1:9].mean(dim=(-1, -2))  # scale 0, 8 angles
    thetas = scattering_filter_bank(64, 64, J=2, L=8)["theta"][0]
    # theta is measured from the row axis: pi/2 points along the columns
    assert abs(thetas[int(s.argmax())] - np.pi / 2) < 1e-9 or abs(thetas[int(s.argmax())] + np.pi / 2) < 1e-9
    assert s.max() > 20 * s.min()


@pytest.mark.parametrize("J", [1, 2, 3])
def test_energy_is_nearly_conserved_and_the_transform_non_expansive(camera, J):
    img = torch.tensor(camera[192:320, 192:320], dtype=torch.float64)[None, None]
    s = scattering2d(img, J=J, L=8)
    ratio = float((s**2).sum() * 4**J / (img**2).sum())
    assert {1: 0.95, 2: 0.9, 3: 0.8}[J] < ratio <= 1.0  # orders 0-2 hold most of the energy, never more than all of it
    other = torch.tensor(camera[170:298, 200:328], dtype=torch.float64)[None, None]
    d_s = float(((s - scattering2d(other, J=J, L=8)) ** 2).sum() * 4**J)
    assert d_s <= float(((img - other) ** 2).sum())  # || S x - S y || <= || x - y ||


def _blobs(size=64, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    img = np.zeros((size, size))
    for _ in range(6):  # a few blobs, away from the border
        cy, cx = rng.uniform(20, size - 20, 2)
        img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(1.5, 4) ** 2))
    return torch.tensor(img)[None, None]


def test_translation_invariance_grows_with_J():
    x = _blobs()
    shifted = torch.roll(x, shifts=(2, 1), dims=(2, 3))
    rel_x = float((shifted - x).norm() / x.norm())
    rel = {J: float((scattering2d(shifted, J=J) - scattering2d(x, J=J)).norm() / scattering2d(x, J=J).norm()) for J in (1, 2, 3, 4)}
    assert rel[4] < rel[3] < rel[2] < rel[1] < rel_x
    assert rel[4] < 0.45 * rel_x


@pytest.mark.parametrize("J,tol", [(1, 1e-6), (2, 1e-6), (3, 1e-3)])  # J = 3: the 96 px image's border reaches the blobs
def test_a_shift_by_2_to_the_J_shifts_the_output_by_one(J, tol):
    x = _blobs(size=96, seed=1)
    s = scattering2d(x, J=J)
    s_shift = scattering2d(torch.roll(x, shifts=(2**J, -(2**J)), dims=(2, 3)), J=J)
    torch.testing.assert_close(s_shift[..., 1:, :-1], s[..., :-1, 1:], rtol=0, atol=tol * float(s.abs().max()))


# --------------------------------------------------------------------------- vs kymatio
@needs_kymatio
@pytest.mark.parametrize("shape,J,L,order", [((32, 32), 2, 8, 2), ((37, 29), 3, 8, 2), ((8, 8), 3, 8, 2), ((40, 36), 3, 6, 2),
                                             ((16, 20), 1, 4, 1), ((32, 32), 3, 8, 1)])
def test_coefficients_equal_kymatio(shape, J, L, order):
    x = _rand(2, 3, *shape, dtype=torch.float32)
    ref = KymatioScattering2D(J=J, shape=shape, L=L, max_order=order)(x)
    ours = scattering2d(x, J=J, L=L, max_order=order)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=0, atol=2e-6 * float(ref.abs().max()))


@needs_kymatio
def test_real_photo_equals_kymatio(astronaut):
    photo = torch.tensor(astronaut[20:116, 180:308]).permute(2, 0, 1)[None].contiguous()  # (1, 3, 96, 128): the face
    ref = KymatioScattering2D(J=3, shape=(96, 128), L=8)(photo)
    ours = Scattering2D(J=3, L=8)(photo)
    torch.testing.assert_close(ours, ref, rtol=0, atol=2e-6 * float(ref.abs().max()))


# --------------------------------------------------------------- dtypes, devices, module
@pytest.mark.parametrize("device", DEVICES)
def test_dtypes_and_devices(device):
    x64 = _rand(2, 1, 24, 24).to(device)
    s64 = scattering2d(x64, J=2, L=4)
    s32 = scattering2d(x64.float(), J=2, L=4)
    assert s64.dtype == torch.float64 and s32.dtype == torch.float32 and s32.device.type == device
    torch.testing.assert_close(s32.double(), s64, rtol=0, atol=1e-6)
    if device != "cpu":
        torch.testing.assert_close(s64.cpu(), scattering2d(x64.cpu(), J=2, L=4), rtol=0, atol=1e-12)


def test_module_equals_function_and_caches_per_size():
    S = Scattering2D(J=2, L=6, max_order=2)
    assert "J=2, L=6, max_order=2" in repr(S) and S.n_channels == scattering_channels(2, 6, 2)
    for shape in [(32, 32), (20, 28), (32, 32)]:
        x = _rand(3, 2, *shape, dtype=torch.float32)
        torch.testing.assert_close(S(x), scattering2d(x, J=2, L=6), rtol=0, atol=0)
    assert len(S._cache) == 2


def test_batch_elements_are_independent():
    x = _rand(4, 2, 24, 24)
    whole = scattering2d(x, J=2, L=4)
    for b in range(4):
        torch.testing.assert_close(scattering2d(x[b : b + 1, 1:], J=2, L=4)[0, 0], whole[b, 1], rtol=0, atol=1e-14)


def test_gradients_flow():
    x = _rand(1, 1, 8, 8).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: scattering2d(t, J=1, L=2), (x,), eps=1e-6, atol=1e-5)
    y = _rand(2, 1, 16, 16, dtype=torch.float32).requires_grad_(True)
    Scattering2D(J=2, L=4)(y).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    # a constant image (moduli near 0): the gradient stays finite
    z = torch.full((1, 1, 16, 16), 0.5, requires_grad=True)
    scattering2d(z, J=2, L=4).sum().backward()
    assert torch.isfinite(z.grad).all()


# ------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((1, 1, 8, 8), np.float32), "torch.Tensor"),
        (torch.zeros(8, 8), r"\(B, C, H, W\)"),
        (torch.zeros(1, 8, 8), "3-D"),
        (torch.zeros(1, 1, 1, 8, 8), "5-D"),
        (torch.zeros(1, 1, 8, 8, dtype=torch.uint8), "float32 or float64"),
        (torch.zeros(1, 1, 8, 8, dtype=torch.int64), "float32 or float64"),
        (torch.zeros(1, 1, 8, 8, dtype=torch.float16), "float32 or float64"),
        (torch.zeros(1, 1, 3, 8), "H and W >= 2\\^J = 4"),
        (torch.zeros(0, 1, 8, 8), "non-empty"),
    ],
)
def test_bad_inputs(bad, match):
    with pytest.raises(VisionkitError, match=match):
        scattering2d(bad, J=2)
    with pytest.raises(VisionkitError, match=match):
        Scattering2D(J=2)(bad)


@pytest.mark.parametrize(
    "kw, match",
    [({"J": 0}, "J: expected an integer >= 1"), ({"J": -1}, "J: expected"), ({"J": 2.0}, "J: expected an integer"),
     ({"J": True}, "J: expected an integer"), ({"L": 0}, "L: expected an integer >= 1"), ({"max_order": 3}, "max_order: expected 1 or 2"),
     ({"max_order": 0}, "max_order")],
)
def test_bad_parameters(kw, match):
    params = {"J": 2, "L": 8, "max_order": 2, **kw}
    with pytest.raises(VisionkitError, match=match):
        scattering2d(torch.zeros(1, 1, 16, 16), **params)
    with pytest.raises(VisionkitError, match=match):
        Scattering2D(**params)
    with pytest.raises(VisionkitError, match=match):
        ScatteringFeatures(size=(16, 16), **params).fit(np.zeros((2, 16, 16, 1), np.uint8))


def test_filter_bank_refuses_images_smaller_than_2_to_the_J():
    with pytest.raises(VisionkitError, match="H: expected an integer >= 8"):
        scattering_filter_bank(7, 16, J=3)


# --------------------------------------------------------------------- the transformer
@parametrize_with_checks([ScatteringFeatures(J=1, L=2, size=(8, 8))])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")  # image input: the 2-D table checks do not apply
def test_sklearn_conformance(estimator, check):
    check(estimator)


def test_features_match_the_function_and_ignore_batching():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    f = ScatteringFeatures(J=2, L=4, channels="rgb", normalize="none", batch_size=3).fit(imgs)
    X = f.transform(imgs)
    assert X.shape == (7, f.n_features_out_) == (7, 3 * scattering_channels(2, 4) * 8 * 8) and X.dtype == np.float32
    ref = scattering2d(torch.tensor(imgs, dtype=torch.float32).permute(0, 3, 1, 2) / 255, J=2, L=4)
    np.testing.assert_allclose(X, ref.reshape(7, -1).numpy(), rtol=0, atol=1e-6)
    big = ScatteringFeatures(J=2, L=4, channels="rgb", normalize="none", batch_size=256, progress=True).fit(imgs)
    np.testing.assert_array_equal(big.transform(imgs), X)
    x64 = ScatteringFeatures(J=2, L=4, channels="rgb", normalize="none", dtype="float64").fit(imgs).transform(imgs)
    assert x64.dtype == np.float64
    np.testing.assert_allclose(x64, X, atol=1e-5)


def test_features_channels_and_normalisations():
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    raw = {c: ScatteringFeatures(J=1, L=4, size=(16, 16), channels=c, normalize="none").fit(imgs).transform(imgs)
           for c in ("gray", "rgb", "yuv")}
    assert raw["gray"].shape[1] * 3 == raw["rgb"].shape[1] == raw["yuv"].shape[1]
    yuv = rgb_to_yuv(imgs.astype(np.float32) / 255)
    ref = scattering2d(torch.tensor(yuv).permute(0, 3, 1, 2).contiguous(), J=1, L=4)
    np.testing.assert_allclose(raw["yuv"], ref.reshape(3, -1).numpy(), atol=1e-6)
    log = ScatteringFeatures(J=1, L=4, size=(16, 16), channels="yuv", normalize="log", eps=0.01).fit(imgs).transform(imgs)
    np.testing.assert_allclose(log, np.sign(raw["yuv"]) * (np.log(np.abs(raw["yuv"]) + 0.01) - np.log(0.01)), atol=1e-5)
    sq = ScatteringFeatures(J=1, L=4, size=(16, 16), channels="rgb", normalize="sqrt").fit(imgs).transform(imgs)
    np.testing.assert_allclose(sq, np.sqrt(np.abs(raw["rgb"])), atol=1e-6)


def test_rgb_to_yuv_known_answers():
    np.testing.assert_allclose(rgb_to_yuv(np.array([1.0, 1.0, 1.0])), [1, 0, 0], atol=1e-4)  # white: no colour
    np.testing.assert_allclose(rgb_to_yuv(np.array([0.0, 0.0, 1.0]))[0], 0.114, atol=1e-6)
    with pytest.raises(VisionkitError, match="last axis of 3"):
        rgb_to_yuv(np.zeros((4, 4)))


def test_features_take_lists_of_any_size_and_channels():
    rng = np.random.default_rng(2)
    imgs = [rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), rng.integers(0, 256, (40, 17), dtype=np.uint8),
            rng.integers(0, 256, (16, 16, 1), dtype=np.uint8)]
    f = ScatteringFeatures(J=2, L=4, size=(16, 16)).fit(imgs)
    X = f.transform(imgs)
    assert X.shape == (3, f.n_features_out_) and np.isfinite(X).all()


def test_several_scales_concatenate_each_scales_coefficients():
    rng = np.random.default_rng(3)
    imgs = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    one = {J: ScatteringFeatures(J=J, L=4, batch_size=2).fit(imgs) for J in (2, 3)}
    both = ScatteringFeatures(J=(3, 2), L=4, batch_size=2).fit(imgs)
    assert both.n_features_out_ == one[2].n_features_out_ + one[3].n_features_out_ == 3 * (
        scattering_channels(3, 4) * 4 * 4 + scattering_channels(2, 4) * 8 * 8)
    np.testing.assert_array_equal(both.transform(imgs), np.concatenate([one[3].transform(imgs), one[2].transform(imgs)], 1))
    assert ScatteringFeatures(J=[2]).fit(imgs).transform(imgs).shape == one[2].transform(imgs).shape[:1] + (3 * 81 * 64,)


def test_parameters_changed_after_fit_are_refused():
    imgs = np.zeros((2, 16, 16, 3), np.uint8)
    f = ScatteringFeatures(J=1, L=4, size=(16, 16)).fit(imgs)
    f.set_params(J=(1, 2))
    with pytest.raises(VisionkitError, match="changed since fit"):
        f.transform(imgs)


@pytest.mark.parametrize(
    "kw, match",
    [({"channels": "hsv"}, "channels"), ({"normalize": "l2"}, "normalize"), ({"dtype": "float16"}, "dtype"),
     ({"size": (3, 16)}, "size"), ({"size": 16}, "size"), ({"batch_size": 0}, "batch_size"), ({"eps": 0}, "eps"),
     ({"J": ()}, "non-empty tuple"), ({"J": (2, 2)}, "distinct"), ({"J": (2, "3")}, "integer"), ({"J": (1, 5)}, "2\\^J = 32"),
     ({"J": 2.0}, "integer")],
)
def test_features_bad_parameters(kw, match):
    with pytest.raises(VisionkitError, match=match):
        ScatteringFeatures(**{"J": 2, "size": (16, 16), **kw}).fit(np.zeros((2, 16, 16, 3), np.uint8))


def test_scattering_svm_method_on_digits():
    from visionkit.data import load_digits

    d = load_digits()
    m = registry.create("scattering-svm", size=(16, 16), channels="gray", C=0.05)
    assert registry.get_spec("scattering-svm").family == "classical"
    m.fit(d.images[:300], d.labels[:300])
    acc = float((m.predict(d.images[300:600]) == d.labels[300:600]).mean())
    assert acc > 0.85, acc
    assert m.transform(d.images[:3]).shape == (3, scattering_channels(2, 8) * 4 * 4)
    mirrored = registry.create("scattering-svm", size=(16, 16), J=1, mirror=True, C=0.05).fit(d.images[:100], d.labels[:100])
    assert mirrored.predict(d.images[:5]).shape == (5,)


def test_batches_are_cut_to_the_memory_budget_with_the_same_coefficients(monkeypatch):
    import visionkit.classical.scattering as S

    # photos at 128 px, J=4: ~35 MB of maps an image, so ~30 to a 1 GiB batch; CIFAR's 32 px keep 256
    assert S.scattering_batch(256, size=(128, 128), J=4, L=8, n_channels=3) == 30
    assert S.scattering_batch(256, size=(32, 32), J=2, L=8, n_channels=3) == 256
    assert S.scattering_batch(256, size=(128, 128), J=4, L=8, n_channels=3, itemsize=8) == 15
    assert S.scattering_batch(8, size=(4096, 4096), J=6, L=8, n_channels=3) == 1
    # a budget of two images' maps gives batches of 2, 2 and 1, and the same coefficients
    two = int(2 * 35e6 * (32 * 32 / 128**2) * (16 / 32)) + 1
    assert S.scattering_batch(256, size=(32, 32), J=2, L=8, n_channels=3, budget=two) == 2
    x = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    f = S.ScatteringFeatures(J=2, batch_size=256).fit(x)
    whole = f.transform(x)
    seen, original = [], S.scattering_batch

    def small(batch_size, **kw):
        seen.append(original(batch_size, budget=two, **kw))
        return seen[-1]

    monkeypatch.setattr(S, "scattering_batch", small)
    np.testing.assert_array_equal(f.transform(x), whole)
    assert seen == [2]
