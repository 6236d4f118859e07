import numpy as np
import pytest
import torch

from visionkit import (
    HarrisResponse,
    Sobel,
    SobelGradients,
    VisionkitError,
    harris_response,
    harris_response_torch,
    sobel,
    sobel_gradients,
    sobel_gradients_torch,
    sobel_torch,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _batch(astronaut, n=3, size=64):
    rng = np.random.default_rng(0)
    crops = []
    for _ in range(n):
        r, c = rng.integers(0, 512 - size, size=2)
        crops.append(astronaut[r : r + size, c : c + size])
    return np.stack(crops)  # (B, H, W, 3)


def _rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


@pytest.mark.parametrize("device", DEVICES)
def test_sobel_twin_matches_numpy(astronaut, device):
    imgs = _batch(astronaut)
    t = torch.from_numpy(imgs).permute(0, 3, 1, 2).to(device)
    gx, gy = sobel_gradients_torch(t)
    mag = sobel_torch(t)
    for i in range(len(imgs)):
        rx, ry = sobel_gradients(imgs[i])
        assert _rel(gx[i].permute(1, 2, 0).cpu().numpy(), rx) < 1e-4
        assert _rel(gy[i].permute(1, 2, 0).cpu().numpy(), ry) < 1e-4
        assert _rel(mag[i].permute(1, 2, 0).cpu().numpy(), sobel(imgs[i])) < 1e-4


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("gradient", ["sobel", "gaussian"])
def test_harris_twin_matches_numpy(astronaut, device, gradient):
    imgs = _batch(astronaut)
    t = torch.from_numpy(imgs).permute(0, 3, 1, 2).to(device)
    r = harris_response_torch(t, sigma=1.5, k=0.04, gradient=gradient)
    assert r.shape == (3, 1, 64, 64)
    for i in range(len(imgs)):
        ref = harris_response(imgs[i], sigma=1.5, k=0.04, gradient=gradient)
        assert _rel(r[i, 0].cpu().numpy(), ref) < 1e-4


def test_grey_and_uint8_inputs(camera):
    u8 = (camera[:48, :48] * 255).round().astype(np.uint8)
    t = torch.from_numpy(u8)[None, None]
    np.testing.assert_allclose(harris_response_torch(t)[0, 0].numpy(), harris_response(u8), rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(sobel_torch(t)[0, 0].numpy(), sobel(u8), rtol=1e-5, atol=1e-6)


def test_modules_equal_functions_and_gradients_flow(camera):
    x = torch.from_numpy(camera[:32, :32].copy())[None, None].double().requires_grad_(True)
    assert torch.equal(HarrisResponse(sigma=1.0)(x), harris_response_torch(x, sigma=1.0))
    assert torch.equal(Sobel(eps=1e-6)(x), sobel_torch(x, eps=1e-6))
    g = SobelGradients()(x)
    assert g.shape == (1, 1, 2, 32, 32)
    assert torch.autograd.gradcheck(lambda a: harris_response_torch(a, sigma=1.0), (x[..., :12, :12].detach().requires_grad_(True),), fast_mode=True)
    assert torch.autograd.gradcheck(lambda a: sobel_torch(a, eps=1e-3), (x[..., :8, :8].detach().requires_grad_(True),), fast_mode=True)
    loss = HarrisResponse()(x).sum()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_bad_inputs():
    with pytest.raises(VisionkitError, match=r"\(B, C, H, W\)"):
        sobel_gradients_torch(torch.zeros(8, 8))
    with pytest.raises(VisionkitError, match="torch.Tensor"):
        sobel_torch(np.zeros((1, 1, 8, 8)))
    with pytest.raises(VisionkitError, match="non-empty"):
        sobel_torch(torch.zeros(0, 1, 8, 8))
    with pytest.raises(VisionkitError, match="H and W"):
        harris_response_torch(torch.zeros(1, 1, 4, 4))
    with pytest.raises(VisionkitError, match="dtype"):
        sobel_torch(torch.zeros(1, 1, 8, 8, dtype=torch.int32))
    with pytest.raises(VisionkitError, match="channels"):
        harris_response_torch(torch.zeros(1, 5, 16, 16))
