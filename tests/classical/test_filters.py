import cv2
import numpy as np
import pytest
import torch

from tests.conftest import real_photos, rel_error
from visionkit import VisionkitError, sobel, sobel_gradients, sobel_orientation
from visionkit.classical import Sobel, SobelGradients, sobel_gradients_torch, sobel_torch
from visionkit.classical._kernels import SOBEL_X, SOBEL_Y


def test_kernels_are_the_slides():
    np.testing.assert_array_equal(SOBEL_X, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(SOBEL_Y, [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])


def test_vertical_step_edge_known_answer():
    img = np.zeros((7, 8), np.float32)
    img[:, 4:] = 1.0
    gx, gy = sobel_gradients(img)
    # a unit step gives 1 + 2 + 1 = 4 on both columns next to it, 0 elsewhere
    np.testing.assert_array_equal(gx, np.tile([0, 0, 0, 4, 4, 0, 0, 0], (7, 1)))
    np.testing.assert_array_equal(gy, 0)
    np.testing.assert_array_equal(sobel(img), gx)
    ori = sobel_orientation(img)
    np.testing.assert_allclose(ori[:, 3:5], 0.0)  # gradient points to +column


def test_horizontal_step_edge_points_down():
    img = np.zeros((8, 5), np.uint8)
    img[4:] = 255
    gx, gy = sobel_gradients(img)
    np.testing.assert_array_equal(gx, 0)
    np.testing.assert_array_equal(gy[:, 2], [0, 0, 0, 4, 4, 0, 0, 0])
    np.testing.assert_allclose(sobel_orientation(img)[3:5], np.pi / 2)


def test_ramp_and_diagonal_orientation():
    r, c = np.mgrid[0:16, 0:16].astype(np.float32) / 32
    gx, gy = sobel_gradients(r + c)
    inner = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(gx[inner], 8 / 32, rtol=1e-5)
    np.testing.assert_allclose(gy[inner], 8 / 32, rtol=1e-5)
    np.testing.assert_allclose(sobel_orientation(r + c)[inner], np.pi / 4, rtol=1e-5)
    np.testing.assert_allclose(sobel(r + c)[inner], np.sqrt(2) * 8 / 32, rtol=1e-5)


@pytest.mark.parametrize("name, photo", list(real_photos().items()))
def test_equals_cv2_sobel_whole_image(name, photo):
    gx, gy = sobel_gradients(photo)
    # equal to float32 rounding (OpenCV may pick different SIMD / IPP paths by alignment)
    np.testing.assert_allclose(gx, cv2.Sobel(photo, cv2.CV_32F, 1, 0, ksize=3), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gy, cv2.Sobel(photo, cv2.CV_32F, 0, 1, ksize=3), rtol=1e-6, atol=1e-6)
    ref_mag = np.sqrt(cv2.Sobel(photo, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(photo, cv2.CV_32F, 0, 1) ** 2)
    np.testing.assert_allclose(sobel(photo), ref_mag, rtol=1e-6, atol=1e-6)


def test_matches_skimage_up_to_its_scale(camera):
    from skimage.filters import sobel as sk_sobel
    from skimage.filters import sobel_h, sobel_v

    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(sobel(camera)[inner] / (4 * np.sqrt(2)), sk_sobel(camera)[inner], atol=1e-5)
    gx, gy = sobel_gradients(camera)
    np.testing.assert_allclose(gx[inner] / 4, sobel_v(camera)[inner], atol=1e-5)
    np.testing.assert_allclose(gy[inner] / 4, sobel_h(camera)[inner], atol=1e-5)


def test_colour_is_per_channel(astronaut):
    gx, gy = sobel_gradients(astronaut)
    assert gx.shape == astronaut.shape
    np.testing.assert_allclose(gx, cv2.Sobel(astronaut, cv2.CV_32F, 1, 0, ksize=3), rtol=1e-6, atol=1e-6)
    for ch in range(3):
        np.testing.assert_allclose(gy[..., ch], sobel_gradients(astronaut[..., ch])[1], rtol=1e-6, atol=1e-6)
    one = sobel(astronaut[..., :1])
    assert one.shape == (512, 512, 1)
    np.testing.assert_allclose(one[..., 0], sobel(astronaut[..., 0]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.bool_, np.float16, np.float32, np.float64])
def test_every_dtype_follows_the_rule(dtype):
    base = np.zeros((9, 9))
    base[3:6, 3:6] = 1
    if dtype == np.uint8:
        img = (base * 255).astype(dtype)
    elif dtype == np.uint16:
        img = (base * 65535).astype(dtype)
    else:
        img = base.astype(dtype)
    gx, gy = sobel_gradients(img)
    ref_x, ref_y = sobel_gradients(base.astype(np.float32))
    assert gx.dtype == np.float32 and gy.dtype == np.float32
    np.testing.assert_allclose(gx, ref_x, atol=1e-6)
    np.testing.assert_allclose(gy, ref_y, atol=1e-6)


def test_tiny_images_use_reflect101():
    img = np.array([[0.0, 1.0]], np.float32)
    gx, _ = sobel_gradients(img)
    np.testing.assert_array_equal(gx, cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3))
    np.testing.assert_array_equal(sobel_gradients(np.ones((1, 1)))[0], [[0.0]])


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros(5), "2-D or 3-D"),
        (np.zeros((0, 4)), "zero-size"),
        (np.zeros((4, 4), np.int32), "int32"),
        (np.zeros((4, 4), np.complex128), "complex"),
        (np.zeros((4, 4, 5)), "5 channels"),
        ("image.png", "string"),
    ],
)
def test_bad_inputs(bad, message):
    for f in (sobel_gradients, sobel, sobel_orientation):
        with pytest.raises(VisionkitError, match=message):
            f(bad)


def test_torch_tensor_is_refused_with_a_pointer():
    torch = pytest.importorskip("torch")
    with pytest.raises(VisionkitError, match="sobel_gradients_torch"):
        sobel(torch.zeros(4, 4))


# ------------------------------------------------------------------ the torch twins
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_sobel_twin_matches_numpy(astronaut_batch, device):
    imgs = astronaut_batch
    t = torch.from_numpy(imgs).permute(0, 3, 1, 2).to(device)
    gx, gy = sobel_gradients_torch(t)
    mag = sobel_torch(t)
    for i in range(len(imgs)):
        rx, ry = sobel_gradients(imgs[i])
        assert rel_error(gx[i].permute(1, 2, 0).cpu().numpy(), rx) < 1e-4
        assert rel_error(gy[i].permute(1, 2, 0).cpu().numpy(), ry) < 1e-4
        assert rel_error(mag[i].permute(1, 2, 0).cpu().numpy(), sobel(imgs[i])) < 1e-4


def test_sobel_twin_takes_uint8(camera):
    u8 = (camera[:48, :48] * 255).round().astype(np.uint8)
    np.testing.assert_allclose(sobel_torch(torch.from_numpy(u8)[None, None])[0, 0].numpy(), sobel(u8), rtol=1e-5, atol=1e-6)


def test_sobel_modules_equal_functions_and_gradients_flow(camera):
    x = torch.from_numpy(camera[:32, :32].copy())[None, None].double().requires_grad_(True)
    assert torch.equal(Sobel(eps=1e-6)(x), sobel_torch(x, eps=1e-6))
    assert SobelGradients()(x).shape == (1, 1, 2, 32, 32)
    assert torch.autograd.gradcheck(lambda a: sobel_torch(a, eps=1e-3), (x[..., :8, :8].detach().requires_grad_(True),), fast_mode=True)


def test_sobel_twin_bad_inputs():
    with pytest.raises(VisionkitError, match=r"\(B, C, H, W\)"):
        sobel_gradients_torch(torch.zeros(8, 8))
    with pytest.raises(VisionkitError, match="torch.Tensor"):
        sobel_torch(np.zeros((1, 1, 8, 8)))
    with pytest.raises(VisionkitError, match="non-empty"):
        sobel_torch(torch.zeros(0, 1, 8, 8))
    with pytest.raises(VisionkitError, match="dtype"):
        sobel_torch(torch.zeros(1, 1, 8, 8, dtype=torch.int32))
