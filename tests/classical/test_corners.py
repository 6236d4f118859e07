import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree
from scipy.stats import spearmanr
from skimage.feature import corner_harris
from skimage.feature import corner_peaks as sk_corner_peaks

from tests.conftest import real_photos, rel_error
from visionkit import (
    VisionkitError,
    corner_peaks,
    harris_corners,
    harris_response,
    harris_steps,
    sobel_gradients,
)
from visionkit.classical import HarrisResponse, harris_response_torch

PHOTOS = real_photos()


def _square(n=40, a=10, b=30, dtype=np.uint8):
    img = np.zeros((n, n), dtype)
    img[a:b, a:b] = np.iinfo(dtype).max if dtype != np.float32 else 1.0
    return img


def test_white_square_gives_exactly_its_four_corners():
    corners = harris_corners(_square())
    assert sorted(map(tuple, corners.tolist())) == [(10, 10), (10, 29), (29, 10), (29, 29)]


@pytest.mark.parametrize("offset", [(3, 5), (7, 2)])
def test_rectangle_corners_anywhere(offset):
    r0, c0 = offset
    img = np.zeros((48, 56), np.float32)
    img[r0 + 8 : r0 + 30, c0 + 10 : c0 + 42] = 1
    corners = {tuple(p) for p in harris_corners(img, min_distance=3).tolist()}
    assert corners == {(r0 + 8, c0 + 10), (r0 + 8, c0 + 41), (r0 + 29, c0 + 10), (r0 + 29, c0 + 41)}


def test_response_sign_corner_edge_flat():
    r = harris_response(_square())
    assert r[10, 10] > 0  # corner
    assert r[20, 10] < 0  # edge
    assert r[20, 20] == 0  # flat


def test_six_steps_are_consistent(camera):
    s = harris_steps(camera, sigma=1.5, k=0.04)
    ix, iy = sobel_gradients(camera)
    np.testing.assert_array_equal(s.ix, ix)
    np.testing.assert_array_equal(s.iy, iy)
    np.testing.assert_array_equal(s.ixy, ix * iy)
    det = s.sxx * s.syy - s.sxy**2
    np.testing.assert_allclose(s.response, det - 0.04 * (s.sxx + s.syy) ** 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.response, harris_response(camera, sigma=1.5, k=0.04), rtol=1e-5, atol=1e-6)
    from skimage.filters import gaussian

    inner = (slice(8, -8), slice(8, -8))
    np.testing.assert_allclose(s.sxx[inner], gaussian(s.ixx, sigma=1.5)[inner], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", list(PHOTOS))
def test_agrees_with_skimage_corner_harris(name):
    img = PHOTOS[name]
    ours = harris_response(img, sigma=1.0, k=0.05)
    ref = corner_harris(img.astype(np.float64), sigma=1, k=0.05)
    b = 6  # the border rules differ (reflect-101 here, zeros in skimage)
    rho = spearmanr(ours[b:-b, b:-b].ravel(), ref[b:-b, b:-b].ravel())[0]
    assert rho >= 0.99
    np.testing.assert_allclose(ours[b:-b, b:-b], ref[b:-b, b:-b], atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("name", ["camera", "astronaut", "coffee"])
def test_recovers_skimage_peaks(name):
    img = PHOTOS[name]
    ref = sk_corner_peaks(corner_harris(img, sigma=1, k=0.05), min_distance=5, threshold_rel=0.01)
    ours = harris_corners(img, min_distance=5, threshold_rel=0.01)
    dist, _ = cKDTree(ours).query(ref)
    assert len(ref) > 20
    assert (dist <= 2).mean() >= 0.9


def test_gaussian_derivative_variant(camera):
    r = harris_response(camera, gradient="gaussian", derivative_sigma=1.0)
    rs = harris_response(camera)
    b = 8
    rho = spearmanr(r[b:-b:3, b:-b:3].ravel(), rs[b:-b:3, b:-b:3].ravel())[0]
    assert 0.7 < rho < 1.0  # a related but different estimate of the derivatives
    assert {tuple(p) for p in harris_corners(_square(), gradient="gaussian").tolist()} == {
        (10, 10), (10, 29), (29, 10), (29, 29)
    }
    # the derivative kernel has unit response to a unit ramp
    ramp = np.tile(np.arange(30, dtype=np.float32), (30, 1)) / 30
    steps = harris_steps(ramp, gradient="gaussian", derivative_sigma=2.0)
    np.testing.assert_allclose(steps.ix[10:20, 10:20], 1 / 30, rtol=1e-4)


def test_ordering_max_corners_and_subpixel(camera):
    pts = harris_corners(camera, min_distance=3)
    r = harris_response(camera)
    strengths = r[pts[:, 0], pts[:, 1]]
    assert np.all(np.diff(strengths) <= 0)
    np.testing.assert_array_equal(harris_corners(camera, min_distance=3, max_corners=10), pts[:10])
    sub = harris_corners(camera, min_distance=3, max_corners=10, subpixel=True)
    assert sub.dtype == np.float64 and np.abs(sub - pts[:10]).max() <= 0.5


def test_subpixel_finds_a_known_peak():
    y, x = np.mgrid[0:21, 0:21]
    response = np.exp(-((y - 10.3) ** 2 + (x - 9.8) ** 2) / 8.0).astype(np.float32)
    from visionkit.classical.corners import _refine_subpixel

    pk = corner_peaks(response)
    np.testing.assert_array_equal(pk, [[10, 10]])
    np.testing.assert_allclose(_refine_subpixel(response, pk), [[10.3, 9.8]], atol=0.05)


def test_corner_peaks_plateau_and_threshold():
    resp = np.zeros((7, 7), np.float32)
    resp[2:4, 2:4] = 1  # a plateau: one peak, like skimage.feature.corner_peaks
    np.testing.assert_array_equal(corner_peaks(resp), [[2, 2]])
    assert corner_peaks(resp, threshold_abs=2.0).shape == (0, 2)
    assert corner_peaks(np.zeros((5, 5))).shape == (0, 2)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.bool_, np.float16, np.float32, np.float64])
def test_every_dtype(dtype):
    img = np.zeros((32, 32))
    img[8:24, 8:24] = 1
    if dtype == np.uint8:
        img = (img * 255).astype(dtype)
    elif dtype == np.uint16:
        img = (img * 65535).astype(dtype)
    else:
        img = img.astype(dtype)
    assert harris_response(img).dtype == np.float32
    assert sorted(map(tuple, harris_corners(img).tolist())) == [(8, 8), (8, 23), (23, 8), (23, 23)]


def test_colour_is_reduced_to_grey(astronaut):
    from skimage.color import rgb2gray

    np.testing.assert_allclose(
        harris_response(astronaut), harris_response(rgb2gray(astronaut).astype(np.float32)), rtol=1e-4, atol=1e-7
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sigma": 0}, "sigma"),
        ({"sigma": -1.0}, "sigma"),
        ({"sigma": float("nan")}, "sigma"),
        ({"k": 0.3}, "k"),
        ({"k": "0.05"}, "k"),
        ({"gradient": "prewitt"}, "gradient"),
        ({"min_distance": 0}, "min_distance"),
        ({"min_distance": 1.5}, "min_distance"),
        ({"max_corners": -1}, "max_corners"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(VisionkitError, match=message):
        harris_corners(_square(), **kwargs)


def test_bad_images():
    with pytest.raises(VisionkitError, match="2-D or 3-D"):
        harris_response(np.zeros((2, 3, 4, 5)))
    with pytest.raises(VisionkitError, match="zero-size"):
        harris_corners(np.zeros((0, 3)))
    with pytest.raises(VisionkitError, match="2-D"):
        corner_peaks(np.zeros((4, 4, 3)))


def test_blank_image_has_no_corners():
    assert harris_corners(np.zeros((20, 20))).shape == (0, 2)
    assert harris_corners(np.full((20, 20), 0.7)).shape == (0, 2)


# ------------------------------------------------------------------ the torch twin
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("gradient", ["sobel", "gaussian"])
def test_harris_twin_matches_numpy(astronaut_batch, device, gradient):
    imgs = astronaut_batch
    t = torch.from_numpy(imgs).permute(0, 3, 1, 2).to(device)
    r = harris_response_torch(t, sigma=1.5, k=0.04, gradient=gradient)
    assert r.shape == (3, 1, 64, 64)
    for i in range(len(imgs)):
        ref = harris_response(imgs[i], sigma=1.5, k=0.04, gradient=gradient)
        assert rel_error(r[i, 0].cpu().numpy(), ref) < 1e-4


def test_harris_twin_takes_grey_uint8(camera):
    u8 = (camera[:48, :48] * 255).round().astype(np.uint8)
    t = torch.from_numpy(u8)[None, None]
    np.testing.assert_allclose(harris_response_torch(t)[0, 0].numpy(), harris_response(u8), rtol=1e-4, atol=1e-8)


def test_harris_module_equals_function_and_gradients_flow(camera):
    x = torch.from_numpy(camera[:32, :32].copy())[None, None].double().requires_grad_(True)
    assert torch.equal(HarrisResponse(sigma=1.0)(x), harris_response_torch(x, sigma=1.0))
    assert torch.autograd.gradcheck(lambda a: harris_response_torch(a, sigma=1.0), (x[..., :12, :12].detach().requires_grad_(True),), fast_mode=True)
    HarrisResponse()(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_harris_twin_bad_inputs():
    with pytest.raises(VisionkitError, match="H and W"):
        harris_response_torch(torch.zeros(1, 1, 4, 4))
    with pytest.raises(VisionkitError, match="channels"):
        harris_response_torch(torch.zeros(1, 5, 16, 16))
