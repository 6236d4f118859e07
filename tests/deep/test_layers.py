"""The course's formulas against torch's reference implementations."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionkit import VisionkitError
from visionkit.deep import count_parameters, create_model, layers as L


def test_self_attention_equals_sdpa():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(2, 7, 12, generator=g, dtype=torch.float64)
    q, k, v = (torch.randn(5, 12, generator=g, dtype=torch.float64) for _ in range(3))
    ours = L.self_attention(h, q, k, v)
    ref = F.scaled_dot_product_attention(h @ q.T, h @ k.T, h @ v.T)
    assert ours.shape == (2, 7, 5)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_self_attention_known_answer():
    # Two identical tokens attend equally to each other: the output is the mean of VH.
    h = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    eye = torch.eye(2)
    out = L.self_attention(h, eye, eye, eye)
    torch.testing.assert_close(out, torch.tensor([[1.0, 0.0], [1.0, 0.0]]))


def test_multi_head_equals_torch_multihead_attention():
    torch.manual_seed(0)
    ours = L.MultiHeadSelfAttention(16, 4).double()
    ref = nn.MultiheadAttention(16, 4, batch_first=True).double()
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.in_proj_bias.copy_(ours.qkv.bias)
        ref.out_proj.weight.copy_(ours.proj.weight)
        ref.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(3, 9, 16, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x, x, x, need_weights=False)[0], rtol=1e-10, atol=1e-10)


def test_multi_head_per_head_is_the_course_formula():
    torch.manual_seed(1)
    m = L.MultiHeadSelfAttention(8, 2, qkv_bias=False).double()
    x = torch.randn(1, 5, 8, dtype=torch.float64)
    w = m.qkv.weight
    heads = [L.self_attention(x, w[i * 4:(i + 1) * 4], w[8 + i * 4:8 + (i + 1) * 4], w[16 + i * 4:16 + (i + 1) * 4]) for i in range(2)]
    expected = m.proj(torch.cat(heads, dim=-1))
    torch.testing.assert_close(m(x), expected)


def test_attention_bad_shapes():
    with pytest.raises(VisionkitError, match=r"\(L, D=4\)"):
        L.self_attention(torch.randn(3, 4), torch.randn(2, 5), torch.randn(2, 4), torch.randn(2, 4))
    with pytest.raises(VisionkitError, match="divisor"):
        L.MultiHeadSelfAttention(10, 3)


def test_batch_norm_equals_nn_batchnorm_training_mode():
    torch.manual_seed(0)
    x = torch.randn(8, 5, 6, 6, dtype=torch.float64) * 3 + 2
    ref = nn.BatchNorm2d(5, eps=1e-14, momentum=0.1).double().train()
    ours = L.BatchNorm2d(5).double().train()
    with torch.no_grad():
        ref.weight.uniform_(0.5, 2)
        ref.bias.uniform_(-1, 1)
        ours.weight.copy_(ref.weight)
        ours.bias.copy_(ref.bias)
    # eps: the slide adds 1e-7 to the std, nn.BatchNorm2d(eps=1e-14) almost nothing: a 1e-7 relative gap at most
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-6, atol=1e-6)


def test_batch_norm_formula_and_eps_placement():
    x = torch.tensor([[1.0], [3.0]])  # mean 2, biased std 1
    torch.testing.assert_close(L.batch_norm(x), torch.tensor([[-1.0], [1.0]]) / (1 + 1e-7))
    # a constant channel: the slide's eps keeps it finite (0 / 1e-7 = 0)
    assert torch.equal(L.batch_norm(torch.ones(4, 2, 3, 3)), torch.zeros(4, 2, 3, 3))
    with pytest.raises(VisionkitError, match=r"\(B, C, H, W\)"):
        L.batch_norm(torch.ones(3, 3, 3))


@pytest.mark.parametrize("size", [8, 16, 32, 64])
def test_vit_weights_do_not_depend_on_R(size):
    # "Le nombre de poids ne dépend pas de R": R = (size/4)^2 = 4 ... 256 tokens, one parameter count.
    model = create_model("vit_cifar", img_size=32, seed=0).eval()
    n = count_parameters(model)
    assert n == count_parameters(create_model("vit_cifar", img_size=size))
    with torch.no_grad():
        out = model(torch.zeros(1, 3, size, size))
    assert out.shape == (1, 10) and model.grid_size == (size // 4, size // 4)


def test_torchvision_vit_position_caveat():
    # torchvision's ViT learns one position vector per token: its count grows with R (the caveat).
    small = count_parameters(create_model("vit_b_16", img_size=32))
    big = count_parameters(create_model("vit_b_16", img_size=48))
    assert big - small == (9 - 4) * 768


def test_sincos_positions():
    pe = L.sincos_position_embedding_2d(3, 4, 8)
    assert pe.shape == (12, 8) and torch.isfinite(pe).all()
    assert len({tuple(r.tolist()) for r in pe}) == 12  # every position has its own code
