r"""Multi-task learning: weighting the task losses, and gradient surgery.

Chapter: *Multi-task weighting*. A network with a shared trunk and one head per task is trained
on a combination of the task losses :math:`L_1, \dots, L_T`. Every class here works in a plain
PyTorch training loop, under autocast and on any device:

- the **loss weightings** share one interface, :class:`LossWeighting`: call the module on a
  sequence or a dict of scalar task losses, back-propagate the total it returns, and log its
  :attr:`~LossWeighting.weights`. :class:`SumWeighting`, :class:`FixedWeighting`,
  :class:`LearnableWeighting` (naive, it collapses), :class:`UncertaintyWeighting`,
  :class:`DynamicWeightAverage` and :class:`GradNorm` (which also needs the last shared layer);
- the **gradient surgery** of :class:`PCGrad` replaces ``total.backward()`` by
  ``pcgrad.backward(losses, parameters)``; :func:`project_conflicting` is its projection on a
  (T, P) matrix of task gradients;
- the per-sample (heteroscedastic) uncertainty losses: :func:`heteroscedastic_classification_loss`
  here, and its regression form, which is :func:`losscookbook.regression.gaussian_nll_loss`;
- two helpers: :func:`per_task_param_groups` (optimizer parameter groups with a learning rate
  per task head) and :func:`stop_gradient` / :class:`Cascade` (task B reads task A's output
  without sending its gradient back into A).

Task losses may be float16 or bfloat16 (autocast); totals are computed in float32 (float64
losses stay float64). State (learnable weights, DWA's loss history, GradNorm's initial losses)
lives in parameters and buffers, so ``state_dict()`` round-trips and ``.to(device)`` moves it.
Nothing in a ``forward`` copies a value to the host.

**Distributed training (DDP).** Learnable weights (:class:`UncertaintyWeighting`,
:class:`LearnableWeighting`) get their gradient from the ordinary ``total.backward()``: make
the weighting a submodule of the model that ``DistributedDataParallel`` wraps and DDP averages
their gradients with the others, so every process keeps the same weights. The classes whose
state comes from statistics take ``all_reduce=True``: :class:`DynamicWeightAverage` averages
its per-period loss sums over the processes, :class:`GradNorm` its losses and task gradients
at the shared layer, :class:`PCGrad` its (T, P) matrix of task gradients, so that each of them
computes what a single process would compute on the global batch (with mean-reduced losses and
equal local batches). The flag is ignored when ``torch.distributed`` is not initialised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks as C

__all__ = [
    "LossWeighting",
    "SumWeighting",
    "FixedWeighting",
    "LearnableWeighting",
    "UncertaintyWeighting",
    "heteroscedastic_classification_loss",
    "HeteroscedasticClassificationLoss",
    "DynamicWeightAverage",
    "GradNorm",
    "project_conflicting",
    "PCGrad",
    "per_task_param_groups",
    "stop_gradient",
    "Cascade",
]

TASK_TYPES = ("regression", "classification")
Losses = Sequence[Tensor] | Mapping[str, Tensor]


# --------------------------------------------------------------------------- the common interface
def _tasks(num_tasks: int | Sequence[str]) -> tuple[int, tuple[str, ...] | None]:
    """``num_tasks`` is a count or a sequence of distinct task names."""
    if isinstance(num_tasks, int) and not isinstance(num_tasks, bool):
        return C.check_int(num_tasks, "num_tasks", low=1), None
    if isinstance(num_tasks, Sequence) and not isinstance(num_tasks, str) and num_tasks:
        names = tuple(num_tasks)
        if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            return len(names), names
    raise TypeError(f"num_tasks must be a positive int or a sequence of distinct task names, got {num_tasks!r}")


class LossWeighting(nn.Module):
    r"""Base class of the loss weightings: task losses in, the total to back-propagate out.

    ``forward(losses)`` takes the scalar task losses as a sequence (in task order), a (T,)
    tensor, or a dict keyed by the task names given at construction, checks them (count,
    names, shape (), floating dtype, one device), stacks them into one
    vector :math:`L \in \mathbb{R}^T` (float32 for half-precision losses) and returns
    :meth:`combine` of it, a scalar. :attr:`weights` are the current task weights, detached,
    for logging. A subclass implements :meth:`combine` and :attr:`weights`.

    Args:
        num_tasks: the number of tasks T, or the task names (then dict inputs must have exactly
            these keys; a sequence input is in this order).

    Example:
        >>> weighting = SumWeighting(["depth", "segmentation"])
        >>> weighting({"segmentation": torch.tensor(2.0), "depth": torch.tensor(0.5)})
        tensor(2.5000)
        >>> weighting.num_tasks, weighting.task_names
        (2, ('depth', 'segmentation'))
    """

    def __init__(self, num_tasks: int | Sequence[str]) -> None:
        super().__init__()
        self._num_tasks, self._task_names = _tasks(num_tasks)

    @property
    def num_tasks(self) -> int:
        """The number of tasks T."""
        return self._num_tasks

    @property
    def task_names(self) -> tuple[str, ...] | None:
        """The task names given at construction, or None."""
        return self._task_names

    def stack(self, losses: Losses) -> Tensor:
        """Check the task losses and stack them into a (T,) vector in their compute dtype."""
        if isinstance(losses, Mapping):
            if self._task_names is None:
                raise ValueError(
                    "losses were given as a dict, but this weighting has no task names: "
                    "construct it with the names (e.g. SumWeighting(['a', 'b'])) or pass a sequence"
                )
            C.check_keys(list(losses.keys()), "losses", self._task_names)
            items = [(f"losses[{name!r}]", losses[name]) for name in self._task_names]
        elif isinstance(losses, Tensor) and losses.dim() == 1:
            items = [(f"losses[{i}]", loss) for i, loss in enumerate(losses.unbind())]
        elif isinstance(losses, Sequence) and not isinstance(losses, str):
            items = [(f"losses[{i}]", loss) for i, loss in enumerate(losses)]
        else:
            raise TypeError(f"losses must be a sequence or a dict of scalar tensors, got {type(losses).__name__}")
        C.check_count(len(items), "losses", self._num_tasks, "task losses (one per task)")
        for name, loss in items:
            C.check_scalar(loss, name)
        C.check_same_device(*items)
        dtype = C.compute_dtype(torch.empty(0, dtype=_promoted([loss.dtype for _, loss in items])))
        stacked = torch.stack([loss.to(dtype) for _, loss in items])
        state = next(itertools.chain(self.parameters(), self.buffers()), None)
        if state is not None:
            C.check_same_device(("losses", stacked), (f"the state of {type(self).__name__} (move it with .to)", state))
        return stacked

    def forward(self, losses: Losses) -> Tensor:
        """The total loss to back-propagate (a scalar)."""
        return self.combine(self.stack(losses))

    def combine(self, losses: Tensor) -> Tensor:
        """The total from the stacked (T,) task losses."""
        raise NotImplementedError

    @property
    def weights(self) -> Tensor:
        """The current weight of each task, the factor in front of each :math:`L_i` (a detached (T,) tensor)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"tasks={list(self._task_names) if self._task_names else self._num_tasks}"


def _promoted(dtypes: list[torch.dtype]) -> torch.dtype:
    out = dtypes[0]
    for d in dtypes[1:]:
        out = torch.promote_types(out, d)
    return out


class SumWeighting(LossWeighting):
    r"""The plain sum :math:`\sum_i L_i` (all weights 1), the baseline of every comparison.

    Args:
        num_tasks: the number of tasks, or their names.

    Example:
        >>> SumWeighting(3)([torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)])
        tensor(6.)
    """

    def combine(self, losses: Tensor) -> Tensor:
        return losses.sum()

    @property
    def weights(self) -> Tensor:
        return torch.ones(self.num_tasks)


class FixedWeighting(LossWeighting):
    r"""A weighted sum :math:`\sum_i w_i L_i` with fixed, non-negative weights.

    Args:
        weights: the T weights, as a sequence, a 1-D tensor, or a dict ``{task name: weight}``
            (which also names the tasks). Non-negative and finite.

    Example:
        >>> weighting = FixedWeighting({"ctr": 1.0, "cvr": 0.5})
        >>> weighting({"ctr": torch.tensor(2.0), "cvr": torch.tensor(4.0)})
        tensor(4.)
    """

    task_weights: Tensor

    def __init__(self, weights: Sequence[float] | Tensor | Mapping[str, float]) -> None:
        if isinstance(weights, Mapping):
            names: int | Sequence[str] = list(weights.keys())
            values = [C.check_number(weights[k], f"weights[{k!r}]", low=0.0) for k in weights]
        else:
            if isinstance(weights, Tensor):
                C.check_floating(weights, "weights")
                if weights.dim() != 1:
                    raise ValueError(f"weights must be 1-D (T,), got shape {tuple(weights.shape)}")
                weights = weights.tolist()
            if not isinstance(weights, Sequence) or isinstance(weights, str) or not weights:
                raise TypeError(f"weights must be a non-empty sequence, tensor or dict of numbers, got {weights!r}")
            names = len(weights)
            values = [C.check_number(w, f"weights[{i}]", low=0.0) for i, w in enumerate(weights)]
        super().__init__(names)
        self.register_buffer("task_weights", torch.tensor(values, dtype=torch.float32))

    def combine(self, losses: Tensor) -> Tensor:
        return (self.task_weights.to(losses.dtype) * losses).sum()

    @property
    def weights(self) -> Tensor:
        return self.task_weights.detach().clone()


class LearnableWeighting(LossWeighting):
    r"""Naive learnable weights, :math:`\sum_i w_i L_i` with :math:`w` a parameter. **Do not use it.**

    It is kept to show why learnable weights need a regulariser: the gradient of the total with
    respect to :math:`w_i` is :math:`L_i \ge 0`, so every optimizer step *lowers* each weight;
    the cheapest way to reduce the total is to drive the weights to 0 and then below, where the
    total has no lower bound. :class:`UncertaintyWeighting` adds the regulariser that prevents it.

    Args:
        num_tasks: the number of tasks, or their names.
        init: the initial value of every weight.

    Example:
        >>> weighting = LearnableWeighting(2)
        >>> total = weighting([torch.tensor(1.0), torch.tensor(3.0)])
        >>> total.backward()
        >>> weighting.task_weights.grad  # dTotal/dw_i = L_i > 0: gradient descent lowers every weight
        tensor([1., 3.])
    """

    def __init__(self, num_tasks: int | Sequence[str], *, init: float = 1.0) -> None:
        super().__init__(num_tasks)
        init = C.check_number(init, "init")
        self.task_weights = nn.Parameter(torch.full((self.num_tasks,), init))

    def combine(self, losses: Tensor) -> Tensor:
        return (self.task_weights.to(losses.dtype) * losses).sum()

    @property
    def weights(self) -> Tensor:
        return self.task_weights.detach().clone()


# --------------------------------------------------------------------------- uncertainty weighting
class UncertaintyWeighting(LossWeighting):
    r"""Homoscedastic uncertainty weighting (Kendall et al.), with an optional always-positive form.

    Each task has a learnable log-variance :math:`s_i = \log\sigma_i^2` (initialised to 0).
    The total is :math:`\sum_i c_i e^{-s_i} L_i + R(s_i)` with :math:`c_i = \tfrac12` for a
    regression task and :math:`c_i = 1` for a classification task :cite:p:`kendall2018multi`:

    .. math::

        \text{regression: } \tfrac12 e^{-s} L + \tfrac12 s
        = \frac{1}{2\sigma^2} L + \log\sigma, \qquad
        \text{classification: } e^{-s} L + \tfrac12 s = \frac{1}{\sigma^2} L + \log\sigma .

    With ``positive=False`` (the paper's form) :math:`R(s) = \tfrac12 s = \log\sigma`. For a
    fixed :math:`L > 0` the regression form is minimised at :math:`s^* = \log L` (so
    :math:`\sigma^{*2} = L`: the weight :math:`\tfrac12 e^{-s}` is :math:`1/(2L)`), the
    classification form at :math:`s^* = \log 2L`. When a task's loss gets small,
    :math:`\log\sigma` goes negative without bound and so can the total: the total is a
    quantity to differentiate, not a loss to monitor.

    With ``positive=True``, :math:`R(s) = \log(1 + \sigma^2) = \operatorname{softplus}(s)`,
    the regulariser of Liebel and Körner (2018, arXiv:1805.06334): both terms are positive, so
    the total is :math:`\ge 0` whenever the losses are. Its optimum is no longer
    :math:`\sigma^2 = L` but solves :math:`c L = \sigma^4 / (1 + \sigma^2)`.

    Because :math:`s` is unconstrained, the weights :math:`c_i e^{-s_i}` are always positive:
    no log of a negative number, no clamp.

    Args:
        num_tasks: the number of tasks, or their names.
        task_types: ``"regression"`` or ``"classification"`` per task (default: all regression).
        positive: use the :math:`\log(1+\sigma^2)` regulariser.

    Attributes:
        log_vars: the parameter :math:`s` (T,).

    Example:
        >>> weighting = UncertaintyWeighting(2, task_types=["regression", "classification"])
        >>> weighting([torch.tensor(4.0), torch.tensor(1.0)])  # s = 0: 0.5 * 4 + 1 * 1
        tensor(3., grad_fn=<SumBackward0>)
        >>> weighting.sigma
        tensor([1., 1.])
    """

    factors: Tensor

    def __init__(
        self,
        num_tasks: int | Sequence[str],
        *,
        task_types: Sequence[str] | None = None,
        positive: bool = False,
    ) -> None:
        super().__init__(num_tasks)
        if task_types is None:
            task_types = ["regression"] * self.num_tasks
        if isinstance(task_types, str) or not isinstance(task_types, Sequence):
            raise TypeError(f"task_types must be a sequence of {TASK_TYPES}, got {task_types!r}")
        C.check_count(len(task_types), "task_types", self.num_tasks, "task types (one per task)")
        self.task_types = tuple(C.check_choice(t, f"task_types[{i}]", TASK_TYPES) for i, t in enumerate(task_types))
        self.positive = bool(positive)
        self.log_vars = nn.Parameter(torch.zeros(self.num_tasks))
        factors = [0.5 if t == "regression" else 1.0 for t in self.task_types]
        self.register_buffer("factors", torch.tensor(factors))

    def combine(self, losses: Tensor) -> Tensor:
        s = self.log_vars.to(losses.dtype)
        regulariser = F.softplus(s) if self.positive else 0.5 * s
        return (self.factors.to(losses.dtype) * torch.exp(-s) * losses + regulariser).sum()

    @property
    def weights(self) -> Tensor:
        return (self.factors * torch.exp(-self.log_vars)).detach().clone()

    @property
    def sigma(self) -> Tensor:
        r"""The learned :math:`\sigma_i = e^{s_i / 2}` (T,), detached."""
        return torch.exp(0.5 * self.log_vars).detach().clone()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, task_types={list(self.task_types)}, positive={self.positive}"


def heteroscedastic_classification_loss(
    input: Tensor,
    target: Tensor,
    *,
    log_var: Tensor,
    reduction: str = "mean",
) -> Tensor:
    r"""Cross-entropy weighted by a per-sample predicted variance (heteroscedastic classification).

    The network predicts, for every sample (or pixel / voxel), logits :math:`x` and a
    log-variance :math:`s = \log\sigma^2`; the loss of that sample is the classification form of
    :class:`UncertaintyWeighting` applied per sample :cite:p:`kendall2018multi,bragman2018uncertainty`:

    .. math::

        \ell = e^{-s}\, \operatorname{CE}(x, y) + \tfrac12 s,
        \qquad \operatorname{CE}(x, y) = -\log \operatorname{softmax}(x)_y .

    Samples the network finds hard can raise :math:`s` and lower their weight, at the price of
    :math:`\tfrac12 s`; at the optimum :math:`s^* = \log(2\,\operatorname{CE})`. The
    regression form is :func:`losscookbook.regression.gaussian_nll_loss` (``log_var=`` the predicted
    :math:`s`): :math:`\tfrac12 e^{-s}(y-\mu)^2 + \tfrac12 s`.

    Args:
        input: logits (N, C) or (N, C, d1, ...). Half precision is computed in float32.
        target: class indices (N,) or (N, d1, ...), values in [0, C).
        log_var: predicted log-variances, one per sample: the shape of ``target``, floating.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input: (N, C, d1, ...); target, log_var: (N, d1, ...)
        - output: scalar, or (N, d1, ...) with ``reduction="none"``

    Example:
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
        >>> target = torch.tensor([0, 0])
        >>> loss = heteroscedastic_classification_loss(logits, target, log_var=torch.zeros(2))
        >>> torch.allclose(loss, torch.nn.functional.cross_entropy(logits, target))  # s = 0: plain CE
        True
    """
    reduction = C.check_reduction(reduction)
    C.check_floating(input, "input")
    C.check_min_ndim(input, "input", 2, "(N, C) or (N, C, d1, ...)")
    target = C.check_class_target(input, target)
    C.check_floating(log_var, "log_var")
    C.check_same_shape(target, log_var, ("target", "log_var"))
    C.check_same_device(("input", input), ("target", target), ("log_var", log_var))
    x = C.upcast(input)
    s = log_var.to(x.dtype)
    ce = F.cross_entropy(x, target.long(), reduction="none")
    return C.reduce_loss(torch.exp(-s) * ce + 0.5 * s, reduction)


class HeteroscedasticClassificationLoss(nn.Module):
    """Module form of :func:`heteroscedastic_classification_loss`: ``forward(input, target, *, log_var)``.

    Example:
        >>> HeteroscedasticClassificationLoss()(torch.zeros(1, 2), torch.tensor([1]), log_var=torch.zeros(1))
        tensor(0.6931)
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, *, log_var: Tensor) -> Tensor:
        return heteroscedastic_classification_loss(input, target, log_var=log_var, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# --------------------------------------------------------------------------- dynamic weight average
class DynamicWeightAverage(LossWeighting):
    r"""Dynamic Weight Average (Liu, Johns and Davison): weights from the rate each loss falls.

    .. math::

        \lambda_k(t) = \frac{T \exp(w_k(t-1)/\tau)}{\sum_i \exp(w_i(t-1)/\tau)}, \qquad
        w_k(t-1) = \frac{\bar L_k(t-1)}{\bar L_k(t-2)}

    where :math:`\bar L_k(t)` is task :math:`k`'s average loss over period :math:`t` and
    :math:`\tau` = ``temperature`` :cite:p:`liu2019end`. The weights sum to :math:`T`; a task
    whose loss falls more slowly gets more weight. For the first two periods all weights are 1.

    How to use it: call the module on the task losses at every step (it returns
    :math:`\sum_k \lambda_k L_k` and adds the detached losses to the running average of the
    current period), and call :meth:`end_epoch` when a period ends. The paper's period is the
    epoch; calling :meth:`end_epoch` after every step gives per-step weights (noisier). The
    weights change only in :meth:`end_epoch`, never inside a step. A period in which the module
    was not called leaves everything unchanged.

    Args:
        num_tasks: the number of tasks, or their names.
        temperature: :math:`\tau > 0` (the paper uses 2); large values flatten the weights to 1.
        all_reduce: in :meth:`end_epoch`, average the period's loss sums over the processes
            first (one small ``all_reduce``), so that every process gets the same weights.

    Example:
        >>> dwa = DynamicWeightAverage(2)
        >>> for epoch_losses in ([1.0, 1.0], [0.5, 1.0], [0.25, 1.0]):
        ...     total = dwa(torch.tensor(epoch_losses))
        ...     dwa.end_epoch()
        >>> dwa.weights  # task 0 halves each epoch, task 1 stalls: task 1 gets more weight
        tensor([0.8756, 1.1244])
    """

    lambdas: Tensor
    history: Tensor
    periods: Tensor
    running_sum: Tensor
    running_count: Tensor

    def __init__(self, num_tasks: int | Sequence[str], *, temperature: float = 2.0, all_reduce: bool = False) -> None:
        super().__init__(num_tasks)
        self.temperature = C.check_number(temperature, "temperature", low=0.0, low_open=True)
        self.all_reduce = bool(all_reduce)
        t = self.num_tasks
        self.register_buffer("lambdas", torch.ones(t))
        self.register_buffer("history", torch.ones(2, t))  # rows: L(t-1), L(t-2)
        self.register_buffer("periods", torch.zeros((), dtype=torch.long))
        self.register_buffer("running_sum", torch.zeros(t))
        self.register_buffer("running_count", torch.zeros(()))

    def combine(self, losses: Tensor) -> Tensor:
        with torch.no_grad():
            self.running_sum.add_(losses.detach().to(self.running_sum.dtype))
            self.running_count.add_(1.0)
        return (self.lambdas.to(losses.dtype) * losses).sum()

    @torch.no_grad()
    def end_epoch(self) -> None:
        """Close the current period: update the loss history and the weights, reset the averages."""
        if _distributed(self.all_reduce):
            _all_reduce_mean(self.running_sum)
            _all_reduce_mean(self.running_count)
        seen = self.running_count > 0
        average = (self.running_sum / torch.clamp(self.running_count, min=1.0)).to(self.history.dtype)
        shifted = torch.stack([average, self.history[0]])
        self.history.copy_(torch.where(seen, shifted, self.history))
        self.periods.add_(seen.to(self.periods.dtype))
        ratio = C.safe_divide(self.history[0], self.history[1])
        dynamic = self.num_tasks * torch.softmax(ratio / self.temperature, dim=0)
        self.lambdas.copy_(torch.where(self.periods >= 2, dynamic, torch.ones_like(dynamic)))
        self.running_sum.zero_()
        self.running_count.zero_()

    @property
    def weights(self) -> Tensor:
        return self.lambdas.detach().clone()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, temperature={self.temperature}, all_reduce={self.all_reduce}"


# --------------------------------------------------------------------------- GradNorm
def _parameter_list(parameters: Tensor | Iterable[Tensor], name: str, *, skip_frozen: bool = False) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        C.check_floating(p, f"{name}[{i}]")
        if not p.requires_grad and not skip_frozen:
            raise ValueError(f"{name}[{i}] must require grad, got a tensor with requires_grad=False")
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError(f"{name} must hold at least one tensor that requires grad, got none")
    C.check_same_device(*[(f"{name}[{i}]", p) for i, p in enumerate(params)])
    return params


def _distributed(flag: bool) -> bool:
    return flag and torch.distributed.is_available() and torch.distributed.is_initialized()


def _all_reduce_mean(tensor: Tensor) -> Tensor:
    """The mean of ``tensor`` over the processes of the default group (in place)."""
    torch.distributed.all_reduce(tensor)
    return tensor.div_(torch.distributed.get_world_size())


def _check_differentiable(losses: Tensor) -> None:
    if not losses.requires_grad:
        raise ValueError("losses must be differentiable: none of the task losses requires grad")


def _task_gradients(losses: Tensor, params: list[Tensor], retain_last: bool) -> tuple[Tensor, list[bool]]:
    """The (T, P) matrix of each task loss's gradient with respect to ``params``, flattened once.

    One ``autograd.grad`` per task; a parameter a task does not use contributes zeros. Also
    returns, per parameter, whether any task used it.
    """
    rows = []
    used = [False] * len(params)
    t = losses.shape[0]
    for i in range(t):
        grads = torch.autograd.grad(losses[i], params, retain_graph=retain_last or i < t - 1, allow_unused=True)
        used = [u or g is not None for u, g in zip(used, grads)]
        rows.append(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads)]))
    dtype = _promoted([p.dtype for p in params])
    return torch.stack([r.to(dtype) for r in rows]), used


class GradNorm(LossWeighting):
    r"""GradNorm (Chen et al.): learn the task weights so that the tasks train at similar rates.

    At step :math:`t` with weights :math:`w_i` (renormalised to sum to :math:`T`) and the
    parameters :math:`W` of the last shared layer :cite:p:`chen2018gradnorm`:

    .. math::

        G_i = \lVert \nabla_W\, w_i L_i \rVert_2, \quad
        \tilde L_i = \frac{L_i}{L_i(0)}, \quad
        r_i = \frac{\tilde L_i}{\operatorname{mean}_j \tilde L_j}, \quad
        L_\text{grad} = \sum_i \Big| G_i - \big[\operatorname{mean}_j G_j\big]\, r_i^{\alpha} \Big| ,

    where the target in brackets times :math:`r_i^\alpha` is a constant (no gradient flows
    through it), :math:`L_i(0)` are the losses of the first step, and :math:`\alpha` sets how
    strongly slow tasks are pulled up (the paper uses 1.5 on NYUv2, 0.12 on its toy). The
    weights receive the gradient of :math:`L_\text{grad}` only; the network receives the
    gradient of :math:`\sum_i w_i L_i` only; after each update the weights are renormalised to
    sum to :math:`T`.

    How to use it (one call per step, plus the optimizer)::

        gradnorm = GradNorm(3, alpha=1.5)
        optimizer = torch.optim.Adam([{"params": model.parameters()},
                                      {"params": gradnorm.parameters(), "lr": 0.025}])
        for x, y in loader:
            optimizer.zero_grad()
            losses = task_losses(model(x), y)
            total = gradnorm(losses, model.trunk[-1].weight)  # sets gradnorm's weight gradients
            total.backward()                                  # the network's gradients
            optimizer.step()                                  # updates both

    The call computes :math:`\nabla_W L_i` with ``torch.autograd.grad`` (one extra backward
    through the heads and the last shared layer per task, keeping the graph), writes
    :math:`\nabla_w L_\text{grad}` into ``raw_weights.grad`` (so do not zero the gradients
    between the call and ``optimizer.step()``) and returns :math:`\sum_i w_i L_i` with the
    weights as constants. The renormalisation :math:`w \leftarrow T w / \sum_j w_j` is applied
    at the start of each call, before the weights are used, and :attr:`~LossWeighting.weights` always shows
    the renormalised values. The weights are not clipped at 0 (the paper does not clip); a
    learning rate that is too large for them can make one negative.

    **Mixed precision.** Pass the *unscaled* task losses (the rates :math:`L_i / L_i(0)` must
    not see a ``GradScaler``'s factor, which changes during training) and scale the returned
    total as usual: ``scaler.scale(gradnorm(losses, shared)).backward()``. The weights'
    gradient is then already unscaled, so give ``gradnorm.parameters()`` their own optimizer
    and call its ``step()`` directly: ``scaler.step`` would divide that gradient by the scale.

    The task losses must be positive (the rates :math:`L_i / L_i(0)` are raised to the power
    :math:`\alpha`). The extra cost is one ``autograd.grad`` per task down to the shared layer;
    it is small when that layer is small next to the trunk, and close to one more backward per
    task when the network is little more than that layer.

    Args:
        num_tasks: the number of tasks, or their names.
        alpha: :math:`\alpha \ge 0`; 0 pulls all gradient norms to their mean.
        all_reduce: under ``torch.distributed``, average the losses and the task gradients at
            the shared layer over the processes before computing the norms (two
            ``all_reduce`` calls, of T and of T times the layer's size): the weights then
            follow GradNorm on the global batch and stay identical on every process.

    Attributes:
        raw_weights: the parameter behind the weights (T,).
        initial_losses: :math:`L_i(0)`, recorded by the first call (buffer).
        grad_norms: the unweighted norms :math:`\lVert \nabla_W L_i \rVert` of the last call (buffer).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> trunk, heads = torch.nn.Linear(4, 8), torch.nn.Linear(8, 2)
        >>> out = heads(torch.tanh(trunk(torch.randn(16, 4))))
        >>> losses = [out[:, 0].square().mean(), 10 * out[:, 1].square().mean()]
        >>> gradnorm = GradNorm(2, alpha=1.5)
        >>> total = gradnorm(losses, trunk.weight)
        >>> total.backward()
        >>> gradnorm.raw_weights.grad.shape, float(gradnorm.weights.sum())
        (torch.Size([2]), 2.0)
    """

    initial_losses: Tensor
    initialized: Tensor
    grad_norms: Tensor

    def __init__(self, num_tasks: int | Sequence[str], *, alpha: float = 1.5, all_reduce: bool = False) -> None:
        super().__init__(num_tasks)
        self.alpha = C.check_number(alpha, "alpha", low=0.0)
        self.all_reduce = bool(all_reduce)
        t = self.num_tasks
        self.raw_weights = nn.Parameter(torch.ones(t))
        self.register_buffer("initial_losses", torch.ones(t))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        self.register_buffer("grad_norms", torch.zeros(t))

    def forward(self, losses: Losses, shared_parameters: Tensor | Iterable[Tensor]) -> Tensor:  # type: ignore[override]
        """The weighted total :math:`\\sum_i w_i L_i`; sets the weights' gradient of :math:`L_\\text{grad}`."""
        stacked = self.stack(losses)
        shared = _parameter_list(shared_parameters, "shared_parameters")
        _check_differentiable(stacked)
        with torch.no_grad():
            self.raw_weights.mul_(self.num_tasks / self.raw_weights.sum())
        grads, _ = _task_gradients(stacked, shared, retain_last=True)
        detached = stacked.detach().to(self.raw_weights.dtype)
        if _distributed(self.all_reduce):
            _all_reduce_mean(grads)
            detached = _all_reduce_mean(detached.clone())
        norm = torch.linalg.vector_norm(grads, dim=1).to(self.raw_weights.dtype)
        with torch.no_grad():
            self.initial_losses.copy_(torch.where(self.initialized, self.initial_losses, detached))
            self.initialized.fill_(True)
            self.grad_norms.copy_(norm)
            rates = C.safe_divide(detached, self.initial_losses)
            relative = C.safe_divide(rates, rates.mean())
        with torch.enable_grad():
            w = self.raw_weights
            g = w.abs() * norm  # G_i = || grad_W (w_i L_i) || = |w_i| || grad_W L_i ||
            target = (g.mean() * relative.pow(self.alpha)).detach()
            (grad_w,) = torch.autograd.grad((g - target).abs().sum(), w)
        if w.grad is None:
            w.grad = grad_w.detach()
        else:
            w.grad.add_(grad_w.detach())
        return (w.detach().clone().to(stacked.dtype) * stacked).sum()

    def combine(self, losses: Tensor) -> Tensor:
        raise TypeError("GradNorm needs the last shared layer: call gradnorm(losses, shared_parameters)")

    @property
    def weights(self) -> Tensor:
        w = self.raw_weights.detach()
        return (self.num_tasks * w / w.sum()).clone()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}, all_reduce={self.all_reduce}"


# --------------------------------------------------------------------------- PCGrad
def _check_order(order: Tensor, num_tasks: int) -> Tensor:
    C.check_integer(order, "order")
    if tuple(order.shape) != (num_tasks, num_tasks - 1):
        raise ValueError(
            f"order must have shape (T, T - 1) = ({num_tasks}, {num_tasks - 1}), got {tuple(order.shape)}"
        )
    return order


def _random_order(num_tasks: int, generator: torch.Generator | None) -> Tensor:
    """For each task i, the other tasks in a random order (T, T - 1), drawn on the CPU."""
    rows = []
    for i in range(num_tasks):
        others = torch.tensor([j for j in range(num_tasks) if j != i], dtype=torch.long)
        rows.append(others[torch.randperm(num_tasks - 1, generator=generator)])
    return torch.stack(rows) if num_tasks > 1 else torch.zeros(1, 0, dtype=torch.long)


def project_conflicting(
    grads: Tensor, *, order: Tensor | None = None, generator: torch.Generator | None = None
) -> Tensor:
    r"""PCGrad's projection of a (T, P) matrix of task gradients (Yu et al., Algorithm 1).

    For every task :math:`i`, starting from :math:`g_i^{PC} = g_i`, and for every other task
    :math:`j` in a random order:

    .. math::

        \text{if } g_i^{PC} \cdot g_j < 0: \quad
        g_i^{PC} \leftarrow g_i^{PC} - \frac{g_i^{PC} \cdot g_j}{\lVert g_j \rVert^2}\, g_j

    :cite:p:`yu2020gradient` (projections onto the *original* :math:`g_j`, as in the paper and
    its code). Returns the projected rows :math:`g_i^{PC}`; PCGrad's update is their sum.
    Everything runs on ``grads``' device and nothing is copied to the host: since each
    projected row is a combination of the original rows, the :math:`T - 1` steps (each
    projecting all :math:`T` rows at once) work on the (T, T) Gram matrix, and the (T, P)
    matrix is read twice, by two matrix products.

    Args:
        grads: task gradients (T, P), floating.
        order: optional (T, T - 1) integer tensor, row i = the other tasks in the order task i
            visits them. Default: a random order per task from ``generator``.
        generator: a CPU ``torch.Generator`` for the random order (seed it for reproducibility).

    Returns:
        The projected gradients (T, P).

    Example:
        >>> g = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
        >>> projected = project_conflicting(g)
        >>> projected
        tensor([[0.5000, 0.5000],
                [0.0000, 1.0000]])
        >>> float(projected[0] @ g[1]), float(projected[1] @ g[0])
        (0.0, 0.0)
    """
    C.check_floating(grads, "grads")
    if grads.dim() != 2:
        raise ValueError(f"grads must have shape (T, P), got {tuple(grads.shape)}")
    return _projection_coefficients(grads, order, generator) @ grads


def _projection_coefficients(grads: Tensor, order: Tensor | None, generator: torch.Generator | None) -> Tensor:
    r"""The (T, T) matrix M with ``project_conflicting(grads) == M @ grads``.

    Every projected row is a combination of the original rows, so the algorithm runs on the
    Gram matrix :math:`G G^\top` (one (T, T) product over P) and never copies a (T, P) matrix:
    the dot product :math:`g_i^{PC} \cdot g_j` is :math:`(M G G^\top)_{ij}`.
    """
    t = grads.shape[0]
    order = _random_order(t, generator) if order is None else _check_order(order, t)
    order = order.to(grads.device, non_blocking=True).long()
    gram = grads @ grads.T
    squared_norms = gram.diagonal()
    coefficients = torch.eye(t, dtype=grads.dtype, device=grads.device)
    for step in range(t - 1):
        j = order[:, step : step + 1]  # (T, 1): the task each row visits at this step
        dot = (coefficients @ gram).gather(1, j)
        factor = C.safe_divide(torch.clamp(dot, max=0.0), squared_norms[j])
        coefficients = coefficients.scatter_add(1, j, -factor)
    return coefficients


class PCGrad(LossWeighting):
    r"""Projecting conflicting gradients (PCGrad, Yu et al.): a replacement for ``total.backward()``.

    ``pcgrad.backward(losses, parameters)`` computes each task's gradient with respect to
    ``parameters`` (``torch.autograd.grad``, one backward per task), flattens them once into a
    (T, P) matrix on the parameters' device, removes the conflicting components with
    :func:`project_conflicting` (a random order per task from ``generator``), **sums** the
    projected gradients (the paper's Algorithm 1) and accumulates the sum into each
    parameter's ``.grad``, as ``backward`` would. Parameters that do not require grad are
    skipped, and so (as by ``backward``) are those no task uses. Calling the module itself
    returns the plain sum of the losses (for logging).

    A typical step::

        pcgrad = PCGrad(3, generator=torch.Generator().manual_seed(0))
        optimizer.zero_grad()
        losses = task_losses(model(x), y)
        pcgrad.backward(losses, model.parameters())
        optimizer.step()

    **Mixed precision.** Under autocast with ``torch.amp.GradScaler``, scale the task losses
    and unscale as usual: ``pcgrad.backward([scaler.scale(l) for l in losses], params)``, then
    ``scaler.step(optimizer)`` (or ``scaler.unscale_(optimizer)`` first to clip). The projection
    is unchanged by a common scale factor, so the result is the scaled PCGrad gradient; an
    overflow gives inf/NaN in ``.grad`` and the scaler skips the step.

    **DDP.** ``DistributedDataParallel`` averages gradients in hooks of the ordinary
    ``backward``; ``autograd.grad`` bypasses them. Run the forward under
    ``ddp_model.no_sync()`` (so the reducer does not wait for a backward) and use the module
    ``ddp_model.module``'s parameters. Then either (a) pass ``all_reduce=True``: the (T, P)
    matrix is averaged over the processes (one ``all_reduce`` of T times the model's size)
    *before* the projection, which gives exactly PCGrad of the global batch (with mean-reduced
    losses and equal local batches) and the same ``.grad`` on every process — give every
    process the same ``generator`` seed so they pick the same order; or (b) leave it off and
    average the projected ``.grad`` yourself (one ``all_reduce`` of P): cheaper, but it is the
    mean of per-process projections, not the projection of the mean (the projection is not
    linear), so it differs from single-process PCGrad.

    Args:
        num_tasks: the number of tasks, or their names.
        generator: CPU ``torch.Generator`` for the task order (default: the global generator).
        all_reduce: average the (T, P) task gradients over the default process group before
            projecting (see DDP above); ignored when ``torch.distributed`` is not initialised.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
        >>> losses = [w @ torch.tensor([1.0, 0.0]), w @ torch.tensor([-1.0, 1.0])]  # conflicting
        >>> PCGrad(2).backward(losses, [w])
        >>> w.grad  # the sum of the projected gradients [0.5, 0.5] and [0, 1]
        tensor([0.5000, 1.5000])
    """

    def __init__(
        self,
        num_tasks: int | Sequence[str],
        *,
        generator: torch.Generator | None = None,
        all_reduce: bool = False,
    ) -> None:
        super().__init__(num_tasks)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        self.generator = generator
        self.all_reduce = bool(all_reduce)

    def combine(self, losses: Tensor) -> Tensor:
        return losses.sum()

    @property
    def weights(self) -> Tensor:
        return torch.ones(self.num_tasks)

    def backward(  # type: ignore[override]
        self,
        losses: Losses,
        parameters: Tensor | Iterable[Tensor],
        *,
        order: Tensor | None = None,
        retain_graph: bool = False,
    ) -> None:
        """Accumulate PCGrad's gradient of ``losses`` into the ``.grad`` of ``parameters``.

        ``order`` (T, T - 1) fixes the visiting order (see :func:`project_conflicting`);
        ``retain_graph`` keeps the graph after the last task's backward.
        """
        stacked = self.stack(losses)
        params = _parameter_list(parameters, "parameters", skip_frozen=True)
        _check_differentiable(stacked)
        if order is not None:
            _check_order(order, self.num_tasks)
        matrix, used = _task_gradients(stacked, params, retain_last=retain_graph)
        if _distributed(self.all_reduce):
            _all_reduce_mean(matrix)
            used = [True] * len(params)  # another process may have used it
        total = _projection_coefficients(matrix, order, self.generator).sum(dim=0) @ matrix
        for p, chunk, is_used in zip(params, total.split([p.numel() for p in params]), used):
            if not is_used:
                continue
            g = chunk.view_as(p).to(p.dtype)
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.add_(g)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, all_reduce={self.all_reduce}"


# --------------------------------------------------------------------------- helpers
def _module_parameters(value: nn.Module | Tensor | Iterable[Tensor], name: str) -> list[Tensor]:
    if isinstance(value, nn.Module):
        params = list(value.parameters())
    elif isinstance(value, Tensor):
        params = [value]
    else:
        params = list(value)
    for i, p in enumerate(params):
        C.check_tensor(p, f"{name}[{i}]")
    return params


def per_task_param_groups(
    shared: nn.Module | Iterable[Tensor],
    heads: Mapping[str, nn.Module | Iterable[Tensor]] | Sequence[nn.Module | Iterable[Tensor]],
    *,
    lr: float,
    head_lr: float | Sequence[float] | Mapping[str, float] | None = None,
    **options: object,
) -> list[dict]:
    r"""Optimizer parameter groups with one learning rate for the shared trunk and one per task head.

    Tasks that learn at different speeds (a regression head next to a classification head, or a
    head whose loss is 100 times larger) can each get their own step size instead of a loss
    weight; with SGD, a learning rate :math:`c\,\eta` on a head is the same as the weight
    :math:`c` on its loss *for that head's parameters only*, while the shared trunk keeps
    :math:`\eta`.

    Args:
        shared: the shared trunk (a module, or an iterable of parameters).
        heads: the task heads, a dict ``{task: module or parameters}`` or a sequence.
        lr: the trunk's learning rate (> 0).
        head_lr: the heads' learning rates: one number for all, one per head (a sequence in the
            order of ``heads``, or a dict keyed like ``heads``); default ``lr``.
        **options: other options copied into every group (``weight_decay=...``, ``momentum=...``).

    Returns:
        A list of parameter groups for any ``torch.optim`` optimizer: first the trunk
        (``"name": "shared"``), then one per head (``"name"`` = the task name or index).
        A parameter that appears in two places raises ValueError.

    Example:
        >>> trunk, heads = torch.nn.Linear(4, 8), {"a": torch.nn.Linear(8, 1), "b": torch.nn.Linear(8, 3)}
        >>> groups = per_task_param_groups(trunk, heads, lr=0.1, head_lr={"a": 0.1, "b": 1.0})
        >>> [(g["name"], g["lr"]) for g in groups]
        [('shared', 0.1), ('a', 0.1), ('b', 1.0)]
        >>> optimizer = torch.optim.SGD(groups)
    """
    lr = C.check_number(lr, "lr", low=0.0, low_open=True)
    if isinstance(heads, Mapping):
        names = [str(k) for k in heads]
        head_list = list(heads.values())
    elif isinstance(heads, Sequence) and not isinstance(heads, str):
        names = [str(i) for i in range(len(heads))]
        head_list = list(heads)
    else:
        raise TypeError(f"heads must be a dict or a sequence of modules or parameter lists, got {type(heads).__name__}")
    if not head_list:
        raise ValueError("heads must hold at least one task head, got none")
    if head_lr is None:
        rates = [lr] * len(head_list)
    elif isinstance(head_lr, Mapping):
        C.check_keys(list(head_lr.keys()), "head_lr", names)
        rates = [head_lr[n] for n in names]
    elif isinstance(head_lr, Sequence) and not isinstance(head_lr, str):
        C.check_count(len(head_lr), "head_lr", len(head_list), "learning rates (one per head)")
        rates = list(head_lr)
    else:
        rates = [head_lr] * len(head_list)
    rates = [C.check_number(r, f"head_lr[{n!r}]", low=0.0, low_open=True) for n, r in zip(names, rates)]
    groups = [{"params": _module_parameters(shared, "shared"), "lr": lr, "name": "shared", **options}]
    for name, head, rate in zip(names, head_list, rates):
        groups.append({"params": _module_parameters(head, f"heads[{name!r}]"), "lr": rate, "name": name, **options})
    seen: dict[int, str] = {}
    for group in groups:
        for p in group["params"]:
            if id(p) in seen:
                raise ValueError(
                    f"a parameter of shape {tuple(p.shape)} is in both {seen[id(p)]!r} and {group['name']!r}: "
                    "each parameter must belong to one group"
                )
            seen[id(p)] = group["name"]
    return groups


def stop_gradient(x: Tensor, *, enabled: bool = True) -> Tensor:
    r"""``x`` with its gradient path cut (``x.detach()``) when ``enabled``, else ``x`` itself.

    In a cascade, task B reads task A's prediction; with the stop-gradient B's loss cannot
    change A's parameters (A is trained by its own loss only), without it B's gradient flows
    into A and can pull A away from its own target.

    Example:
        >>> a = torch.tensor(2.0, requires_grad=True)
        >>> stop_gradient(a * 3).requires_grad, stop_gradient(a * 3, enabled=False).requires_grad
        (False, True)
    """
    C.check_tensor(x, "x")
    return x.detach() if enabled else x


class Cascade(nn.Module):
    r"""Two stages where the second reads the first one's output: ``(a, b) = (A(x), B(A(x)))``.

    ``forward(x)`` returns ``(a, b)`` with ``a = first(x)`` and ``b = second(stop_gradient(a))``
    (or ``second(stop_gradient(a), x)`` with ``with_input=True``). With ``detach=True`` (the
    default) task B's loss trains B only; with ``detach=False`` it also back-propagates into A.
    Train with the sum (or any weighting) of both tasks' losses.

    Args:
        first: stage A.
        second: stage B.
        detach: cut B's gradient into A.
        with_input: also pass the input ``x`` to ``second``.

    Example:
        >>> cascade = Cascade(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
        >>> a, b = cascade(torch.ones(4, 3))
        >>> b.sum().backward()
        >>> cascade.first.weight.grad is None  # B's loss did not reach A
        True
    """

    def __init__(self, first: nn.Module, second: nn.Module, *, detach: bool = True, with_input: bool = False) -> None:
        super().__init__()
        for name, m in (("first", first), ("second", second)):
            if not isinstance(m, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(m).__name__}")
        self.first = first
        self.second = second
        self.detach = bool(detach)
        self.with_input = bool(with_input)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a = self.first(x)
        a_in = stop_gradient(a, enabled=self.detach)
        b = self.second(a_in, x) if self.with_input else self.second(a_in)
        return a, b

    def extra_repr(self) -> str:
        return f"detach={self.detach}, with_input={self.with_input}"
