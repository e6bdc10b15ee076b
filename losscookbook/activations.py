"""Activations: GELU in its exact and approximate forms, Maxout, and tools to measure activations.

Chapter: *Activations*. :func:`gelu` / :class:`GELU` add the sigmoid approximation to the two
forms torch has; :class:`Maxout` is the learned piecewise-linear activation. :func:`derivative`,
:func:`dead_units`, :func:`dead_unit_fraction` and :func:`sign_coherence` measure what the
chapter talks about (saturation, dead ReLUs, same-sign updates) in any network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks as C

__all__ = [
    "gelu",
    "GELU",
    "Maxout",
    "derivative",
    "dead_units",
    "dead_unit_fraction",
    "sign_coherence",
]

GELU_APPROXIMATIONS = ("none", "tanh", "sigmoid")
_SIGMOID_SCALE = 1.702


def _check_approximate(approximate: str) -> str:
    return C.check_choice(approximate, "approximate", GELU_APPROXIMATIONS)


def gelu(input: Tensor, *, approximate: str = "none") -> Tensor:
    r"""Gaussian error linear unit, exact or in one of its two published approximations.

    .. math::

        \operatorname{GELU}(x) = x\,\Phi(x)
            = \tfrac12\, x \left(1 + \operatorname{erf}(x / \sqrt{2})\right)

    where :math:`\Phi` is the standard normal distribution function :cite:p:`hendrycks2016gaussian`.
    ``approximate`` selects the form:

    - ``"none"``: the exact form above (via ``erf``);
    - ``"tanh"``: :math:`\tfrac12 x \left(1 + \tanh\!\left(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\right)\right)`,
      largest absolute error :math:`4.73 \times 10^{-4}` (at :math:`|x| \approx 2.70`);
    - ``"sigmoid"``: :math:`x\,\sigma(1.702\,x)`, largest absolute error
      :math:`2.03 \times 10^{-2}` (at :math:`|x| \approx 2.27`).

    ``"none"`` and ``"tanh"`` call ``torch.nn.functional.gelu`` (one fused kernel), so they match
    ``torch.nn.GELU`` exactly; ``"sigmoid"``, which torch lacks, is computed as
    :math:`\operatorname{SiLU}(1.702\,x) / 1.702` with the fused SiLU kernel. Unlike torch, a misspelt
    ``approximate`` raises an error that lists the choices.

    GELU can be read as the expectation of a random gate: :math:`x\,\Phi(x) = \mathbb{E}[x\,m]`
    with :math:`m \sim \operatorname{Bernoulli}(\Phi(x))`, a mask that keeps an input the more
    often the larger it is.

    Args:
        input: any floating tensor. Half precision is computed in float32 and returned in the
            input's dtype (an activation keeps the dtype of the layer it sits in).
        approximate: ``"none"`` | ``"tanh"`` | ``"sigmoid"``.

    Shape:
        - input: (*)
        - output: (*), the shape and dtype of input

    Returns:
        The activation, elementwise.

    Example:
        >>> x = torch.tensor([-1.0, 0.0, 1.0])
        >>> gelu(x)
        tensor([-0.1587,  0.0000,  0.8413])
        >>> gelu(x, approximate="sigmoid")
        tensor([-0.1542,  0.0000,  0.8458])
    """
    approximate = _check_approximate(approximate)
    C.check_floating(input, "input")
    if approximate != "sigmoid":
        return F.gelu(input, approximate=approximate)
    # x * sigmoid(a x) = silu(a x) / a: one fused kernel, and backward keeps one tensor, not two
    x = C.upcast(input)
    return (F.silu(_SIGMOID_SCALE * x) / _SIGMOID_SCALE).to(input.dtype)


class GELU(nn.Module):
    """Module form of :func:`gelu`.

    Example:
        >>> GELU(approximate="tanh")(torch.tensor([1.0]))
        tensor([0.8412])
    """

    def __init__(self, *, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = _check_approximate(approximate)

    def forward(self, input: Tensor) -> Tensor:
        return gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Maxout(nn.Module):
    r"""Maxout layer: the largest of ``pieces`` affine maps, per output unit.

    .. math::

        h_i(x) = \max_{j = 1, \dots, k} \left( x^\top W_{ij} + b_{ij} \right),
        \qquad i = 1, \dots, \texttt{out\_features},\; k = \texttt{pieces}

    :cite:p:`goodfellow2013maxout`. Each unit is a convex, piecewise-linear function of its
    input, and with enough pieces it approximates any convex function. Special cases: with
    two pieces and the second one fixed at 0 it is ReLU of the first; with the second piece
    equal to 0.01 times the first it is leaky ReLU with slope 0.01.

    The layer is one ``nn.Linear(in_features, out_features * pieces)`` followed by a max over
    the pieces, so it costs ``pieces`` times the parameters (and the multiply-adds) of an
    ``nn.Linear(in_features, out_features)``: ``pieces * (in_features + 1) * out_features``
    with bias. Row ``i * pieces + j`` of ``linear.weight`` is piece ``j`` of unit ``i``;
    :attr:`piece_weight` and :attr:`piece_bias` are views of the parameters in that layout.

    Args:
        in_features: size of each input sample (>= 1).
        out_features: number of maxout units (>= 1).
        pieces: number of affine pieces per unit, :math:`k \geq 1` (1 is a plain linear layer).
        bias: whether the pieces have biases.

    Shape:
        - input: ``(*, in_features)``
        - output: ``(*, out_features)``

    Example:
        >>> layer = Maxout(3, 4, pieces=2)
        >>> layer(torch.randn(5, 3)).shape
        torch.Size([5, 4])
        >>> sum(p.numel() for p in layer.parameters()) == 2 * sum(p.numel() for p in torch.nn.Linear(3, 4).parameters())
        True
    """

    def __init__(self, in_features: int, out_features: int, *, pieces: int = 2, bias: bool = True) -> None:
        super().__init__()
        self.in_features = C.check_int(in_features, "in_features", low=1)
        self.out_features = C.check_int(out_features, "out_features", low=1)
        self.pieces = C.check_int(pieces, "pieces", low=1)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        self.linear = nn.Linear(in_features, out_features * pieces, bias=bias)

    @property
    def piece_weight(self) -> Tensor:
        """The weights as a view of shape (out_features, pieces, in_features)."""
        return self.linear.weight.view(self.out_features, self.pieces, self.in_features)

    @property
    def piece_bias(self) -> Tensor | None:
        """The biases as a view of shape (out_features, pieces), or None without bias."""
        if self.linear.bias is None:
            return None
        return self.linear.bias.view(self.out_features, self.pieces)

    def forward(self, input: Tensor) -> Tensor:
        C.check_floating(input, "input")
        C.check_min_ndim(input, "input", 1, "(*, in_features)")
        if input.shape[-1] != self.in_features:
            raise ValueError(
                f"input must have in_features={self.in_features} entries in its last dimension, "
                f"got shape {tuple(input.shape)}"
            )
        z = self.linear(input)
        return z.unflatten(-1, (self.out_features, self.pieces)).amax(dim=-1)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}, "
            f"bias={self.linear.bias is not None}"
        )


def derivative(fn: Callable[[Tensor], Tensor], input: Tensor, *, create_graph: bool = False) -> Tensor:
    r"""The elementwise derivative :math:`f'(x)` of an elementwise function, by autograd.

    Computes the gradient of :math:`\sum_i f(x)_i` with respect to :math:`x`. For a function
    that acts elementwise (every activation here: ``torch.sigmoid``, ``torch.tanh``, ``F.relu``,
    :func:`gelu` ...) the Jacobian is diagonal and this is exactly :math:`f'(x_i)` at every
    element. For a function that mixes elements (softmax, a linear layer) it is the column sums
    of the Jacobian instead, which is not a derivative: use ``torch.autograd.functional.jacobian``.

    Args:
        fn: an elementwise function or module; ``fn(input)`` must have the shape of ``input``.
        input: the points, a floating tensor of any shape. If it already requires grad (inside
            another derivative), it is used as it is, so derivatives can be nested.
        create_graph: keep the graph of the derivative, to differentiate it again (second
            derivatives: ``derivative(lambda t: derivative(fn, t, create_graph=True), x)``).

    Shape:
        - input: (*)
        - output: (*), the shape of input

    Returns:
        :math:`f'(x)` elementwise (zeros where ``fn`` does not depend on ``input``).

    Example:
        >>> derivative(torch.sigmoid, torch.tensor([0.0, 2.0]))
        tensor([0.2500, 0.1050])
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    C.check_floating(input, "input")
    with torch.enable_grad():
        x = input if input.requires_grad else input.detach().requires_grad_(True)
        y = fn(x)
        C.check_tensor(y, "fn(input)")
        if y.shape != x.shape:
            raise ValueError(
                f"fn(input) must have the shape of input (an elementwise function), "
                f"expected {tuple(x.shape)}, got {tuple(y.shape)}"
            )
        if not y.requires_grad:
            return torch.zeros_like(input)
        (grad,) = torch.autograd.grad(
            y, x, grad_outputs=torch.ones_like(y), create_graph=create_graph, allow_unused=True
        )
    return torch.zeros_like(input) if grad is None else grad


DEFAULT_KINDS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.LeakyReLU)


def _check_kinds(kinds: object) -> tuple[type[nn.Module], ...]:
    if isinstance(kinds, type):
        kinds = (kinds,)
    ok = isinstance(kinds, tuple) and len(kinds) > 0
    ok = ok and all(isinstance(k, type) and issubclass(k, nn.Module) for k in kinds)  # type: ignore[union-attr]
    if not ok:
        raise TypeError(f"kinds must be an nn.Module subclass or a non-empty tuple of them, got {kinds!r}")
    return kinds  # type: ignore[return-value]


def dead_units(
    model: nn.Module,
    X: Tensor,
    *,
    kinds: type[nn.Module] | tuple[type[nn.Module], ...] = DEFAULT_KINDS,
    unit_dim: int = 1,
    batch_size: int = 4096,
) -> dict[str, Tensor]:
    r"""Which units of each rectifier in ``model`` never fire on the data set ``X``.

    A unit is *dead on X* when the input of its activation (its pre-activation) is
    :math:`\leq 0` for every sample of ``X``: a ReLU then outputs 0 and passes back a zero
    gradient on every sample, so plain gradient descent on this data never changes the unit's
    incoming weights. It can only come back if the layers before it change its inputs. A leaky
    ReLU unit that is negative everywhere still passes back its slope times the gradient, so it
    can recover; it is reported too (it is "inactive", not stuck).

    The activations are found with forward hooks on every submodule of ``model`` that is an
    instance of ``kinds`` (``nn.ReLU`` and ``nn.LeakyReLU`` by default): the hook sees the
    pre-activation. Calls to ``torch.nn.functional.relu`` inside a ``forward`` have no module
    and are invisible to hooks; such models must use ``nn.ReLU`` modules (or name their own
    activation module in ``kinds``). A module applied several times per forward gets one entry
    per call: ``name``, ``name#1``, ``name#2`` ...

    The model runs in eval mode under ``torch.no_grad()`` (its mode is restored afterwards),
    in batches of ``batch_size`` rows moved to the device of its first parameter.

    Args:
        model: the network.
        X: the data set, shape (N, ...), N >= 1, as the model takes it.
        kinds: the activation module type(s) to inspect.
        unit_dim: the dimension of the pre-activation that indexes the units (1: features of
            (N, F) or channels of (N, C, H, W); use -1 for (N, L, F) sequences). All other
            dimensions (samples, positions) must be non-positive for a unit to be dead.
        batch_size: rows per forward pass.

    Returns:
        For each activation module (by its name in ``model.named_modules()``) a boolean CPU
        tensor with one entry per unit, True where the unit is dead on ``X``.

    Raises:
        ValueError: if no module of ``kinds`` runs on ``X``, or a pre-activation holds NaN or
            infinity (a diverged model has no meaningful dead units).

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.ReLU())
        >>> with torch.no_grad():  # unit 0: pre-activation -1 everywhere; unit 1: +1
        ...     _ = net[0].weight.zero_(), net[0].bias.copy_(torch.tensor([-1.0, 1.0]))
        >>> dead_units(net, torch.randn(10, 1))
        {'1': tensor([ True, False])}
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    C.check_tensor(X, "X")
    C.check_min_ndim(X, "X", 1, "(N, ...)")
    if X.shape[0] < 1:
        raise ValueError("X must hold at least one sample, got shape (0, ...)")
    kinds = _check_kinds(kinds)
    unit_dim = C.check_int(unit_dim, "unit_dim")
    batch_size = C.check_int(batch_size, "batch_size", low=1)

    alive: dict[str, Tensor] = {}
    calls: dict[str, int] = {}

    def make_hook(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
            pre = args[0]
            count = calls.get(name, 0)
            calls[name] = count + 1
            key = name if count == 0 else f"{name}#{count}"
            if pre.dim() < 2 or not -pre.dim() <= unit_dim < pre.dim():
                raise ValueError(
                    f"unit_dim={unit_dim} is not a unit dimension of the input of {key!r}: it has shape "
                    f"{tuple(pre.shape)}, and the samples' dimension 0 cannot index the units"
                )
            dim = unit_dim % pre.dim()
            if dim == 0:
                raise ValueError(f"unit_dim must not be the samples' dimension 0, got {unit_dim}")
            if not bool(torch.isfinite(pre).all()):
                raise ValueError(
                    f"the pre-activation of {key!r} holds NaN or infinity: the model has diverged"
                )
            fired = (pre > 0).movedim(dim, 0).reshape(pre.shape[dim], -1).any(dim=1).cpu()
            alive[key] = fired | alive[key] if key in alive else fired

        return hook

    targets = [(name or type(model).__name__, m) for name, m in model.named_modules() if isinstance(m, kinds)]
    if not targets:
        names = ", ".join(k.__name__ for k in kinds)
        raise ValueError(f"model has no submodule of kinds ({names}); dead units are found by hooks on them")
    params = next(model.parameters(), None)
    device = params.device if params is not None else X.device
    handles = [m.register_forward_hook(make_hook(name)) for name, m in targets]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, X.shape[0], batch_size):
                calls.clear()
                model(X[start : start + batch_size].to(device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    if not alive:
        names = ", ".join(k.__name__ for k in kinds)
        raise ValueError(f"no submodule of kinds ({names}) ran in model(X); dead units are found by hooks on them")
    return {key: ~fired for key, fired in alive.items()}


def dead_unit_fraction(
    model: nn.Module,
    X: Tensor,
    *,
    kinds: type[nn.Module] | tuple[type[nn.Module], ...] = DEFAULT_KINDS,
    unit_dim: int = 1,
    batch_size: int = 4096,
) -> float:
    """The fraction of all rectifier units of ``model`` that are dead on ``X``.

    Pools the units of every activation found by :func:`dead_units` (same arguments, same
    definition: pre-activation :math:`\\leq 0` on every sample) and returns dead / total.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.ReLU())
        >>> with torch.no_grad():
        ...     _ = net[0].weight.zero_(), net[0].bias.copy_(torch.tensor([-1.0, 1.0, 1.0, 1.0]))
        >>> dead_unit_fraction(net, torch.randn(10, 1))
        0.25
    """
    masks = dead_units(model, X, kinds=kinds, unit_dim=unit_dim, batch_size=batch_size)
    dead = sum(int(mask.sum()) for mask in masks.values())
    total = sum(mask.numel() for mask in masks.values())
    return dead / total


def sign_coherence(grad: Tensor, *, dim: int = -1) -> Tensor:
    r"""How much the non-zero entries of a gradient agree in sign, along ``dim``.

    .. math::

        c(g) = \frac{\left|\sum_j \operatorname{sign}(g_j)\right|}{\#\{j : g_j \neq 0\}}

    1 when every non-zero entry has the same sign, about :math:`\sqrt{2 / (\pi n)}` when
    :math:`n` signs are independent coin flips, and 0 when no entry is non-zero. Applied to the
    per-example gradient of one unit's incoming weights, :math:`\partial L / \partial w_j = \delta\, x_j`,
    it is 1 whenever the unit's inputs :math:`x_j` are all non-negative (sigmoid or ReLU
    outputs): on every example, all the weights that move, move in the same direction, the
    cause of zig-zag updates. Zero-centred inputs (tanh outputs) give mixed signs.

    Args:
        grad: a floating tensor with at least one element along ``dim``.
        dim: the dimension whose entries are compared (e.g. the fan-in).

    Shape:
        - grad: ``(..., n, ...)`` with n >= 1 along ``dim``
        - output: grad's shape without ``dim``

    Example:
        >>> sign_coherence(torch.tensor([[0.1, 2.0, 0.0], [1.0, -1.0, 0.5]]))
        tensor([1.0000, 0.3333])
    """
    C.check_floating(grad, "grad")
    C.check_min_ndim(grad, "grad", 1, "(*, n)")
    dim = C.check_int(dim, "dim", low=-grad.dim(), high=grad.dim() - 1)
    if grad.shape[dim] == 0:
        raise ValueError(f"grad must have at least one element along dim={dim}, got shape {tuple(grad.shape)}")
    signs = torch.sign(C.upcast(grad))
    nonzero = (signs != 0).sum(dim=dim)
    return C.safe_divide(signs.sum(dim=dim).abs(), nonzero)
