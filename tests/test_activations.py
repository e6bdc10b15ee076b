"""Tests of losscookbook.activations: GELU (three forms), Maxout, and the measuring tools."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import losscookbook as lc

FORMS = ["none", "tanh", "sigmoid"]


# ------------------------------------------------------------------ float64 references (from the formulas)
def ref_gelu(x: torch.Tensor, approximate: str) -> torch.Tensor:
    """Element by element with Python's math module, in float64."""
    out = []
    for v in x.detach().double().cpu().flatten().tolist():
        if approximate == "none":
            out.append(v * 0.5 * (1.0 + math.erf(v / math.sqrt(2.0))))
        elif approximate == "tanh":
            out.append(0.5 * v * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v**3))))
        else:
            z = 1.702 * v
            sig = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
            out.append(v * sig)
    return torch.tensor(out, dtype=torch.float64).reshape(x.shape)


def ref_gelu_derivative(x: torch.Tensor, approximate: str) -> torch.Tensor:
    x = x.double()
    if approximate == "none":
        cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
        pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return cdf + x * pdf
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        inner = k * (x + 0.044715 * x**3)
        t = torch.tanh(inner)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
    s = torch.sigmoid(1.702 * x)
    return s + 1.702 * x * s * (1 - s)


def ref_maxout(layer: lc.Maxout, x: torch.Tensor) -> torch.Tensor:
    """Loop over units and pieces: h_i = max_j (W_ij . x + b_ij)."""
    W = layer.piece_weight.detach().double()
    b = layer.piece_bias.detach().double() if layer.piece_bias is not None else torch.zeros(W.shape[:2], dtype=torch.float64)
    rows = x.detach().double().reshape(-1, layer.in_features)
    out = torch.empty(rows.shape[0], layer.out_features, dtype=torch.float64)
    for n, row in enumerate(rows):
        for i in range(layer.out_features):
            out[n, i] = max(float(W[i, j] @ row + b[i, j]) for j in range(layer.pieces))
    return out.reshape(*x.shape[:-1], layer.out_features)


# ------------------------------------------------------------------ gelu
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gelu_equals_torch(device, approximate, dtype):
    x = torch.randn(1000, device=device, dtype=dtype) * 4
    torch.testing.assert_close(lc.gelu(x, approximate=approximate), F.gelu(x, approximate=approximate), rtol=0, atol=0)
    torch.testing.assert_close(lc.GELU(approximate=approximate)(x), nn.GELU(approximate=approximate)(x), rtol=0, atol=0)


@pytest.mark.parametrize("approximate", FORMS)
def test_gelu_equals_float64_formula(device, approximate):
    x = torch.cat([torch.linspace(-8, 8, 161), torch.tensor([-30.0, -1e-3, 0.0, 1e-3, 30.0])]).to(device)
    ours = lc.gelu(x.double(), approximate=approximate).cpu()
    torch.testing.assert_close(ours, ref_gelu(x, approximate), rtol=1e-12, atol=1e-14)
    ours32 = lc.gelu(x, approximate=approximate).cpu()
    assert ours32.dtype == torch.float32
    torch.testing.assert_close(ours32.double(), ref_gelu(x, approximate), rtol=2e-6, atol=2e-6)


def test_gelu_approximation_errors_match_the_published_figures():
    x = torch.linspace(-10, 10, 400_001, dtype=torch.float64)
    exact = lc.gelu(x)
    for approximate, error, where in [("tanh", 4.73e-4, 2.70), ("sigmoid", 2.03e-2, 2.27)]:
        diff = (lc.gelu(x, approximate=approximate) - exact).abs()
        assert diff.max().item() == pytest.approx(error, rel=5e-3)
        assert x[diff.argmax()].abs().item() == pytest.approx(where, abs=0.02)


@pytest.mark.parametrize("approximate", FORMS)
def test_gelu_gradcheck_and_second_derivative(approximate):
    x = torch.randn(12, dtype=torch.float64, requires_grad=True) * 3
    x = x.detach().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: lc.gelu(t, approximate=approximate), (x,))
    assert torch.autograd.gradgradcheck(lambda t: lc.gelu(t, approximate=approximate), (x,))


@pytest.mark.parametrize("approximate", FORMS)
def test_gelu_derivative_matches_the_analytic_one(approximate):
    x = torch.linspace(-6, 6, 241, dtype=torch.float64)
    torch.testing.assert_close(
        lc.derivative(lambda t: lc.gelu(t, approximate=approximate), x), ref_gelu_derivative(x, approximate)
    )


@pytest.mark.parametrize("approximate", FORMS)
def test_gelu_saturated_inputs(device, approximate):
    x = torch.tensor([-1e4, -100.0, 100.0, 1e4], device=device, requires_grad=True)
    y = lc.gelu(x, approximate=approximate)
    torch.testing.assert_close(y, torch.tensor([0.0, 0.0, 100.0, 1e4], device=device))
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.0, 0.0, 1.0, 1.0], device=device))


@pytest.mark.parametrize("approximate", FORMS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_gelu_half_precision(device, approximate, dtype):
    x = (torch.randn(256, device=device) * 4).to(dtype)
    y = lc.gelu(x, approximate=approximate)
    assert y.dtype == dtype
    # computed in float32 and rounded once: the sigmoid form (ours) is exactly the rounded float32
    # result; torch's kernels for the other two are within one unit in the last place of it
    reference = lc.gelu(x.float(), approximate=approximate).to(dtype).float()
    if approximate == "sigmoid":
        torch.testing.assert_close(y.float(), reference, rtol=0, atol=0)
    else:
        torch.testing.assert_close(y.float(), reference, rtol=torch.finfo(dtype).eps, atol=1e-5)
    leaf = x.clone().requires_grad_(True)
    lc.gelu(leaf, approximate=approximate).sum().backward()
    assert leaf.grad.dtype == dtype and torch.isfinite(leaf.grad.float()).all()


def test_gelu_under_autocast_keeps_the_layer_dtype():
    layer = nn.Linear(4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = layer(torch.randn(3, 4))
        out = lc.gelu(h, approximate="sigmoid")
    assert out.dtype == torch.bfloat16


@given(st.floats(-50, 50, allow_nan=False), st.sampled_from(FORMS))
@settings(max_examples=200, deadline=None)
def test_gelu_odd_part_is_the_identity(v, approximate):
    # x g(x) - (-x) g(-x) = x (g(x) + g(-x)) = x, since every gate g here has g(x) + g(-x) = 1
    x = torch.tensor([v, -v], dtype=torch.float64)
    y = lc.gelu(x, approximate=approximate)
    assert (y[0] - y[1]).item() == pytest.approx(v, rel=1e-12, abs=1e-12)


@given(st.floats(-8, 8, allow_nan=False))
@settings(max_examples=100, deadline=None)
def test_gelu_lies_between_zero_and_relu_side(v):
    # x Phi(x) is between min(0, x) and max(0, x), like a soft ReLU
    y = lc.gelu(torch.tensor(v, dtype=torch.float64)).item()
    assert min(0.0, v) - 1e-15 <= y <= max(0.0, v) + 1e-15


def test_gelu_module_repr_and_state_dict():
    module = lc.GELU(approximate="sigmoid")
    assert "approximate='sigmoid'" in repr(module)
    assert module.state_dict() == {}
    x = torch.randn(5)
    torch.testing.assert_close(module(x), lc.gelu(x, approximate="sigmoid"), rtol=0, atol=0)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: lc.gelu(torch.zeros(3), approximate="erf"), ValueError,
         r"approximate must be one of \('none', 'tanh', 'sigmoid'\), got 'erf'"),
        (lambda: lc.gelu(torch.zeros(3), approximate=None), ValueError, r"approximate must be one of .*got None"),
        (lambda: lc.GELU(approximate="fast"), ValueError, r"approximate must be one of .*got 'fast'"),
        (lambda: lc.gelu(torch.zeros(3, dtype=torch.long)), TypeError,
         r"input must be a floating-point tensor, got dtype torch.int64"),
        (lambda: lc.gelu([0.0, 1.0]), TypeError, r"input must be a torch.Tensor, got list"),
    ],
)
def test_gelu_rejects(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ Maxout
@pytest.mark.parametrize("shape", [(5, 3), (2, 7, 3), (3,)])
@pytest.mark.parametrize("pieces", [1, 2, 5])
def test_maxout_shapes_and_reference(device, shape, pieces):
    layer = lc.Maxout(3, 4, pieces=pieces).to(device)
    x = torch.randn(shape, device=device)
    out = layer(x)
    assert out.shape == (*shape[:-1], 4)
    torch.testing.assert_close(out.double().cpu(), ref_maxout(layer.cpu(), x.cpu()), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pieces", [1, 2, 3, 8])
@pytest.mark.parametrize("bias", [True, False])
def test_maxout_costs_pieces_times_a_linear_layer(pieces, bias):
    layer = lc.Maxout(10, 6, pieces=pieces, bias=bias)
    linear = nn.Linear(10, 6, bias=bias)
    count = sum(p.numel() for p in layer.parameters())
    assert count == pieces * sum(p.numel() for p in linear.parameters())
    assert count == pieces * (10 + int(bias)) * 6
    assert (layer.piece_bias is None) == (not bias)


def test_maxout_piece_layout():
    layer = lc.Maxout(2, 3, pieces=4)
    assert layer.piece_weight.shape == (3, 4, 2) and layer.piece_bias.shape == (3, 4)
    # row i * pieces + j of linear.weight is piece j of unit i, and the views share storage
    torch.testing.assert_close(layer.piece_weight[1, 2], layer.linear.weight[1 * 4 + 2])
    with torch.no_grad():
        layer.piece_bias[2, 3] = 7.0
    assert layer.linear.bias[2 * 4 + 3].item() == 7.0


def test_maxout_with_one_piece_at_zero_is_relu():
    torch.manual_seed(1)
    layer = lc.Maxout(5, 7, pieces=2).double()
    with torch.no_grad():
        layer.piece_weight[:, 1] = 0.0
        layer.piece_bias[:, 1] = 0.0
    x = torch.randn(64, 5, dtype=torch.float64)
    first = x @ layer.piece_weight[:, 0].T + layer.piece_bias[:, 0]
    torch.testing.assert_close(layer(x), F.relu(first), rtol=1e-13, atol=1e-15)  # up to matmul rounding


def test_maxout_with_a_scaled_second_piece_is_leaky_relu():
    layer = lc.Maxout(5, 7, pieces=2).double()
    with torch.no_grad():
        layer.piece_weight[:, 1] = 0.01 * layer.piece_weight[:, 0]
        layer.piece_bias[:, 1] = 0.01 * layer.piece_bias[:, 0]
    x = torch.randn(64, 5, dtype=torch.float64)
    first = x @ layer.piece_weight[:, 0].T + layer.piece_bias[:, 0]
    torch.testing.assert_close(layer(x), F.leaky_relu(first, 0.01), rtol=1e-13, atol=1e-15)


def test_maxout_represents_abs_exactly():
    layer = lc.Maxout(1, 1, pieces=2, bias=False)
    with torch.no_grad():
        layer.piece_weight.copy_(torch.tensor([[[1.0], [-1.0]]]))
    x = torch.linspace(-3, 3, 61).unsqueeze(1)
    torch.testing.assert_close(layer(x), x.abs(), rtol=0, atol=0)


def test_maxout_gradcheck():
    layer = lc.Maxout(3, 2, pieces=3).double()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_maxout_half_precision_and_state_dict_round_trip():
    layer = lc.Maxout(4, 3, pieces=3)
    clone = lc.Maxout(4, 3, pieces=3)
    clone.load_state_dict(layer.state_dict())
    x = torch.randn(6, 4)
    torch.testing.assert_close(clone(x), layer(x), rtol=0, atol=0)
    assert set(layer.state_dict()) == {"linear.weight", "linear.bias"}
    assert "pieces=3" in repr(layer)
    out = layer.to(torch.bfloat16)(x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


@given(st.integers(0, 10_000), st.floats(0.0, 1.0))
@settings(max_examples=50, deadline=None)
def test_maxout_units_are_convex(seed, t):
    g = torch.Generator().manual_seed(seed)
    layer = lc.Maxout(3, 4, pieces=3).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    a, b = torch.randn(2, 3, generator=g, dtype=torch.float64)
    mixed = layer(t * a + (1 - t) * b)
    assert (mixed <= t * layer(a) + (1 - t) * layer(b) + 1e-12).all()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(in_features=3, out_features=4, pieces=0), ValueError, r"pieces must be an integer in \[1, inf\], got 0"),
        (dict(in_features=0, out_features=4), ValueError, r"in_features must be an integer in \[1, inf\], got 0"),
        (dict(in_features=3, out_features=2.0), TypeError, r"out_features must be an int, got float"),
        (dict(in_features=3, out_features=4, bias="yes"), TypeError, r"bias must be a bool, got str"),
    ],
)
def test_maxout_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.Maxout(**kwargs)


def test_maxout_rejects_bad_input():
    layer = lc.Maxout(3, 4)
    with pytest.raises(ValueError, match=r"input must have in_features=3 entries in its last dimension, got shape \(5, 2\)"):
        layer(torch.zeros(5, 2))
    with pytest.raises(TypeError, match=r"input must be a floating-point tensor, got dtype torch.int64"):
        layer(torch.zeros(5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"input must have shape \(\*, in_features\), got \(\)"):
        layer(torch.tensor(1.0))


# ------------------------------------------------------------------ derivative
ANALYTIC = [
    (torch.sigmoid, lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x))),
    (torch.tanh, lambda x: 1 - torch.tanh(x) ** 2),
    (F.relu, lambda x: (x > 0).double()),
    (lambda x: F.leaky_relu(x, 0.01), lambda x: torch.where(x > 0, 1.0, 0.01 * torch.ones_like(x))),
    (F.softplus, torch.sigmoid),
    (torch.exp, torch.exp),
    (nn.Sigmoid(), lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x))),
]


@pytest.mark.parametrize("fn, expected", ANALYTIC)
def test_derivative_matches_analytic_derivatives(fn, expected):
    x = torch.linspace(-5, 5, 1001, dtype=torch.float64)
    x = x[x != 0]  # ReLU-like functions have no derivative at 0
    torch.testing.assert_close(lc.derivative(fn, x), expected(x), rtol=1e-12, atol=1e-14)


def test_derivative_keeps_the_shape_and_device(device):
    x = torch.randn(3, 4, 5, device=device)
    d = lc.derivative(torch.tanh, x)
    assert d.shape == x.shape and d.device == x.device and not d.requires_grad


def test_derivative_nests_for_second_derivatives():
    x = torch.linspace(-4, 4, 81, dtype=torch.float64)
    second = lc.derivative(lambda t: lc.derivative(torch.sigmoid, t, create_graph=True), x)
    s = torch.sigmoid(x)
    torch.testing.assert_close(second, s * (1 - s) * (1 - 2 * s))


def test_derivative_works_under_no_grad_and_leaves_grad_alone():
    x = torch.randn(10, requires_grad=True)
    with torch.no_grad():
        d = lc.derivative(torch.sigmoid, x)
    torch.testing.assert_close(d, torch.sigmoid(x.detach()) * (1 - torch.sigmoid(x.detach())))
    assert x.grad is None


def test_derivative_of_a_constant_is_zero():
    x = torch.randn(4)
    torch.testing.assert_close(lc.derivative(lambda t: torch.ones_like(t), x), torch.zeros(4))
    torch.testing.assert_close(lc.derivative(lambda t: t.detach() * 2, x), torch.zeros(4))


@pytest.mark.parametrize(
    "fn, x, error, message",
    [
        ("sigmoid", torch.zeros(3), TypeError, r"fn must be callable, got str"),
        (torch.sigmoid, torch.zeros(3, dtype=torch.long), TypeError, r"input must be a floating-point tensor"),
        (torch.sum, torch.zeros(3), ValueError,
         r"fn\(input\) must have the shape of input \(an elementwise function\), expected \(3,\), got \(\)"),
        (lambda t: t.tolist(), torch.zeros(3), TypeError, r"fn\(input\) must be a torch.Tensor, got list"),
    ],
)
def test_derivative_rejects(fn, x, error, message):
    with pytest.raises(error, match=message):
        lc.derivative(fn, x)


# ------------------------------------------------------------------ dead units
def _constant_unit_net(biases, activation=nn.ReLU):
    """Linear(2, k) with zero weights: unit i's pre-activation is biases[i] on every sample."""
    net = nn.Sequential(nn.Linear(2, len(biases)), activation())
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.copy_(torch.tensor(biases))
    return net


def test_dead_units_of_constant_units(device):
    net = _constant_unit_net([-1.0, 0.0, 1.0, -1e-6]).to(device)
    X = torch.randn(50, 2)
    masks = lc.dead_units(net, X)
    assert list(masks) == ["1"]
    # pre-activation <= 0 on every sample is dead; exactly 0 counts as dead (ReLU passes no gradient)
    assert masks["1"].tolist() == [True, True, False, True]
    assert masks["1"].device.type == "cpu"
    assert lc.dead_unit_fraction(net, X) == 0.75


def test_a_unit_positive_on_one_sample_is_alive_even_across_batches():
    net = nn.Sequential(nn.Linear(1, 2), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [0.0]]))
        net[0].bias.copy_(torch.tensor([0.0, -1.0]))
    X = -torch.rand(100, 1) - 0.1
    X[-1] = 0.5  # only the last sample makes unit 0 fire
    for batch_size in (1, 7, 100, 1000):
        assert lc.dead_units(net, X, batch_size=batch_size)["1"].tolist() == [False, True]
    assert lc.dead_units(net, X[:-1])["1"].tolist() == [True, True]


def test_dead_units_pools_layers_and_counts_leaky_relu_by_default():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.LeakyReLU(0.1))
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.copy_(torch.tensor([-1.0, 1.0, 1.0, 1.0]))
        net[2].weight.zero_()
        net[2].bias.copy_(torch.tensor([-2.0, -3.0]))
    X = torch.randn(20, 3)
    masks = lc.dead_units(net, X)
    assert masks["1"].tolist() == [True, False, False, False] and masks["3"].tolist() == [True, True]
    assert lc.dead_unit_fraction(net, X) == 3 / 6
    assert list(lc.dead_units(net, X, kinds=nn.ReLU)) == ["1"]
    assert lc.dead_unit_fraction(net, X, kinds=(nn.ReLU,)) == 0.25


def test_dead_units_of_conv_channels_and_sequences():
    conv = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU())
    with torch.no_grad():
        conv[0].weight.zero_()
        conv[0].bias.copy_(torch.tensor([1.0, -1.0, 0.5]))
    assert lc.dead_units(conv, torch.randn(4, 1, 5, 5))["1"].tolist() == [False, True, False]

    seq = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    with torch.no_grad():
        seq[0].weight.zero_()
        seq[0].bias.copy_(torch.tensor([-1.0, 1.0]))
    X = torch.randn(4, 6, 3)  # (N, L, F): the units are the last dimension
    assert lc.dead_units(seq, X, unit_dim=-1)["1"].tolist() == [True, False]
    assert lc.dead_units(seq, X, unit_dim=1)["1"].shape == (6,)  # dimension 1 would be the positions


def test_a_module_applied_twice_gets_one_entry_per_call():
    relu = nn.ReLU()
    net = nn.Sequential(nn.Linear(2, 3), relu, nn.Linear(3, 2), relu)
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.copy_(torch.tensor([1.0, -1.0, 1.0]))
        net[2].weight.zero_()
        net[2].bias.copy_(torch.tensor([1.0, -1.0]))
    masks = lc.dead_units(net, torch.randn(5, 2), batch_size=2)
    assert masks["1"].tolist() == [False, True, False]
    assert masks["1#1"].tolist() == [False, True]


def test_dead_units_restores_the_mode_and_removes_its_hooks():
    net = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.ReLU())
    net.train()
    lc.dead_units(net, torch.randn(10, 2))
    assert net.training
    assert all(len(m._forward_hooks) == 0 for m in net.modules())
    net.eval()
    lc.dead_units(net, torch.randn(10, 2))
    assert not net.training


def test_dead_units_removes_its_hooks_after_an_error():
    net = _constant_unit_net([1.0, 1.0])
    with pytest.raises(ValueError, match=r"the pre-activation of '1' holds NaN or infinity: the model has diverged"):
        lc.dead_units(net, torch.tensor([[float("nan"), 0.0]]))
    assert len(net[1]._forward_hooks) == 0


def test_dead_units_moves_the_data_to_the_model(device):
    net = _constant_unit_net([1.0, -1.0]).to(device)
    assert lc.dead_units(net, torch.randn(3, 2))["1"].tolist() == [False, True]


class _FunctionalReLU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x):
        return F.relu(self.linear(x))


@pytest.mark.parametrize(
    "model, X, kwargs, error, message",
    [
        (_FunctionalReLU(), torch.randn(3, 2), {}, ValueError,
         r"model has no submodule of kinds \(ReLU, LeakyReLU\); dead units are found by hooks on them"),
        (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.randn(0, 2), {}, ValueError, r"X must hold at least one sample"),
        (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.randn(3, 2), dict(kinds=(F.relu,)), TypeError,
         r"kinds must be an nn.Module subclass or a non-empty tuple of them"),
        (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.randn(3, 2), dict(kinds=()), TypeError, r"kinds must be"),
        (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.randn(3, 2), dict(batch_size=0), ValueError,
         r"batch_size must be an integer in \[1, inf\], got 0"),
        (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.randn(3, 2), dict(unit_dim=0), ValueError,
         r"unit_dim must not be the samples' dimension 0, got 0"),
        (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.randn(3, 2), dict(unit_dim=2), ValueError,
         r"unit_dim=2 is not a unit dimension of the input of '1'"),
        (lambda x: x, torch.randn(3, 2), {}, TypeError, r"model must be an nn.Module, got function"),
        (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), [[0.0, 1.0]], {}, TypeError, r"X must be a torch.Tensor, got list"),
    ],
)
def test_dead_units_rejects(model, X, kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.dead_units(model, X, **kwargs)


def test_dead_relu_weights_never_move_under_sgd_but_leaky_ones_do():
    X = torch.randn(200, 4)
    y = torch.randint(0, 2, (200,))
    for activation, moves in [(nn.ReLU, False), (nn.LeakyReLU, True)]:
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 6), activation(), nn.Linear(6, 2))
        with torch.no_grad():
            net[0].bias[:3] = -100.0  # units 0-2 negative on every sample
        before = net[0].weight[:3].clone()
        assert lc.dead_units(net, X)["1"][:3].all()
        opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
        for _ in range(20):
            opt.zero_grad()
            F.cross_entropy(net(X), y).backward()
            opt.step()
        assert torch.equal(net[0].weight[:3], before) is not moves


# ------------------------------------------------------------------ sign coherence
def test_sign_coherence_values():
    g = torch.tensor([[1.0, 2.0, 3.0], [-1.0, -0.5, -2.0], [1.0, -1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    # zeros are ignored; a row with no non-zero entry gives 0
    torch.testing.assert_close(lc.sign_coherence(g), torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0]))
    torch.testing.assert_close(lc.sign_coherence(g, dim=0), torch.tensor([1 / 3, 0.0, 0.0]))
    torch.testing.assert_close(lc.sign_coherence(torch.tensor([1.0, 1.0, 1.0, -1.0])), torch.tensor(0.5))


def test_sign_coherence_of_per_example_gradients_follows_the_inputs():
    # dL/dw_j = delta * x_j: inputs of one sign give coherence 1 on every example
    torch.manual_seed(0)
    w = torch.randn(32, dtype=torch.float64)
    for inputs, expect_one in [(torch.sigmoid(torch.randn(50, 32, dtype=torch.float64)), True),
                               (torch.tanh(torch.randn(50, 32, dtype=torch.float64)), False)]:
        grads = []
        for x in inputs:
            wi = w.clone().requires_grad_(True)
            ((wi @ x - 1.0) ** 2).backward()
            grads.append(wi.grad)
        coherence = lc.sign_coherence(torch.stack(grads))
        assert bool((coherence == 1).all()) is expect_one
        if not expect_one:
            assert coherence.mean() < 0.4


_ENTRY = st.one_of(st.just(0.0), st.floats(1e-6, 1e3), st.floats(-1e3, -1e-6))  # no underflow when scaled


@given(st.lists(_ENTRY, min_size=1, max_size=30), st.floats(1e-3, 1e3))
@settings(max_examples=100, deadline=None)
def test_sign_coherence_is_in_unit_interval_and_scale_and_sign_invariant(values, scale):
    g = torch.tensor(values, dtype=torch.float64)
    c = lc.sign_coherence(g)
    assert 0.0 <= c.item() <= 1.0
    assert lc.sign_coherence(g * scale).item() == c.item() == lc.sign_coherence(-g).item()


@pytest.mark.parametrize(
    "grad, kwargs, error, message",
    [
        (torch.ones(3, dtype=torch.long), {}, TypeError, r"grad must be a floating-point tensor"),
        (torch.ones(2, 3), dict(dim=2), ValueError, r"dim must be an integer in \[-2, 1\], got 2"),
        (torch.ones(2, 0), {}, ValueError, r"grad must have at least one element along dim=-1, got shape \(2, 0\)"),
        (torch.tensor(1.0), {}, ValueError, r"grad must have shape \(\*, n\), got \(\)"),
    ],
)
def test_sign_coherence_rejects(grad, kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.sign_coherence(grad, **kwargs)


# ------------------------------------------------------------------ the shared check added for this module
def test_check_choice():
    from losscookbook import _checks as C

    assert C.check_choice("tanh", "approximate", ("none", "tanh")) == "tanh"
    with pytest.raises(ValueError, match=r"mode must be one of \('a', 'b'\), got 'c'"):
        C.check_choice("c", "mode", ("a", "b"))
    with pytest.raises(ValueError, match=r"mode must be one of \('a', 'b'\), got 1"):
        C.check_choice(1, "mode", ("a", "b"))
