r"""Batch statistics that stay correct under ``torch.distributed`` (DistributedDataParallel).

Under DDP every process sees its own shard of the global batch, computes its loss on it, and
DDP *averages* the parameter gradients over the :math:`W` processes. A loss whose value depends
on statistics of the batch (a count of positives to normalise by, the bin counts of GHM, class
counts, the negatives an anchor is compared with) is silently different from the loss on the
whole batch unless those statistics are shared. This module shares them, with plain
``torch.distributed`` collectives (no engine of its own); every function is the identity on a
single process, so the same training code runs with and without DDP.

The rule behind the normalisers: the gradient of the global mean
:math:`\frac{1}{D} \sum_p S_p` (with :math:`S_p` the summed loss of process :math:`p` and
:math:`D` the global count) equals DDP's average :math:`\frac{1}{W} \sum_p \nabla L_p` when
each process uses :math:`L_p = S_p / (D / W)`. :func:`mean_normalizer` returns :math:`D / W`.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from . import _checks as C

__all__ = [
    "is_distributed",
    "world_size",
    "all_reduce_sum",
    "mean_normalizer",
    "all_gather_with_grad",
    "global_class_counts",
]


def is_distributed(group: dist.ProcessGroup | None = None) -> bool:
    """True when ``torch.distributed`` is initialised and the group has more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def world_size(group: dist.ProcessGroup | None = None) -> int:
    """The number of processes of ``group`` (1 when ``torch.distributed`` is not initialised).

    Example:
        >>> world_size()
        1
    """
    return dist.get_world_size(group) if is_distributed(group) else 1


def all_reduce_sum(tensor: Tensor, group: dist.ProcessGroup | None = None) -> Tensor:
    """The sum of ``tensor`` over the processes, as a new tensor (no gradient flows through it).

    Meant for batch statistics (counts, normalisers), which are constants for the backward
    pass. On a single process it returns a detached copy.

    Example:
        >>> all_reduce_sum(torch.tensor([1.0, 2.0]))
        tensor([1., 2.])
    """
    C.check_tensor(tensor, "tensor")
    out = tensor.detach().clone()
    if is_distributed(group):
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
    return out


def mean_normalizer(count: Tensor | float, group: dist.ProcessGroup | None = None) -> Tensor:
    r"""The normaliser :math:`D / W` that makes a DDP run average over the global batch.

    ``count`` is this process's count (valid targets, positives, ...); the result is the global
    count divided by the number of processes. Dividing each process's summed loss by it makes
    DDP's averaged gradient equal the gradient of the global mean (see the module docstring).
    Pass it as the ``normalizer`` of :func:`~losscookbook.focal.sigmoid_focal_loss`, for example.
    On a single process it is ``count`` itself.

    Example:
        >>> mean_normalizer(torch.tensor(12.0))
        tensor(12.)
    """
    if not isinstance(count, Tensor):
        count = torch.tensor(C.check_number(count, "count", low=0.0))
    C.check_tensor(count, "count")
    count = count.to(torch.promote_types(count.dtype, torch.float32)) if not count.is_floating_point() else count
    return all_reduce_sum(count, group) / world_size(group)


class _AllGather(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: Tensor, group: dist.ProcessGroup | None) -> Tensor:  # type: ignore[override]
        ctx.group = group
        ctx.rank = dist.get_rank(group)
        ctx.size = tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, tensor.contiguous(), group=group)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad[ctx.rank * ctx.size : (ctx.rank + 1) * ctx.size], None


def all_gather_with_grad(tensor: Tensor, group: dist.ProcessGroup | None = None) -> Tensor:
    r"""Concatenate ``tensor`` from every process along dimension 0, keeping the gradient.

    Every process must pass a tensor of the same shape (pad a short last batch, or drop it with
    ``DataLoader(drop_last=True)``). The result has :math:`W` times as many rows, this process's
    own rows at positions ``rank * n`` to ``(rank + 1) * n``.

    Gradient semantics: the backward pass sums, over the processes, the gradients that reach
    each gathered row, and hands every process the part for its own rows. So if process
    :math:`p` computes :math:`L_p` from the gathered tensor and DDP averages the parameter
    gradients, the update is the gradient of :math:`\frac{1}{W} \sum_p L_p`: the same as one
    process that computes every :math:`L_p` on the concatenated batch and averages them. Use it
    for in-batch negatives: each process keeps its own queries and compares them with
    everybody's embeddings. For mining over the global batch (batch-hard, semi-hard, batch-all),
    gather the labels too and compute the loss of the whole batch on every process: every
    process then sends its own rows :math:`W` times the single-process gradient, and DDP's
    average divides by :math:`W`, so the update is exactly that of one process on the global
    batch (at the price of each process mining the whole batch). Integer tensors (labels) are
    gathered too; they carry no gradient.

    On a single process it returns ``tensor`` unchanged.

    Example:
        >>> x = torch.ones(2, 3)
        >>> all_gather_with_grad(x) is x
        True
    """
    C.check_tensor(tensor, "tensor")
    C.check_min_ndim(tensor, "tensor", 1, "(N, ...)")
    if not is_distributed(group):
        return tensor
    return _AllGather.apply(tensor, group)


def global_class_counts(
    target: Tensor, num_classes: int, *, ignore_index: int | None = None, group: dist.ProcessGroup | None = None
) -> Tensor:
    """Per-class counts of integer targets, summed over every process (float64, shape (C,)).

    Feed them to :func:`~losscookbook.imbalance.class_weights` so that every process uses the
    same weights. Targets equal to ``ignore_index`` are not counted; other values must be in
    [0, num_classes).

    Example:
        >>> global_class_counts(torch.tensor([0, 2, 2, -100]), 3, ignore_index=-100)
        tensor([1., 0., 2.], dtype=torch.float64)
    """
    target = C.class_indices(target, "target")
    num_classes = C.check_int(num_classes, "num_classes", low=1)
    flat = target.reshape(-1)
    keep = torch.ones_like(flat, dtype=torch.bool) if ignore_index is None else flat != ignore_index
    C.check_values_in(torch.where(keep, flat, torch.zeros_like(flat)), "target", 0, num_classes - 1)
    index = torch.where(keep, flat, torch.zeros_like(flat)).long()
    counts = torch.zeros(num_classes, dtype=torch.float64, device=target.device)
    counts.index_add_(0, index, keep.to(torch.float64))
    return all_reduce_sum(counts, group)
