"""Sampled softmax, negative sampling and in-batch softmax with the logQ correction.

Chapter: *Sampled softmax and negative sampling*. A softmax over a catalogue of a million items
costs a million dot products per example. The losses here look at the true item and a few
sampled ones instead:

- :func:`negative_sampling_loss`: word2vec's objective, one logistic loss for the true pair and
  one for each sampled negative.
- :func:`sampled_softmax_loss`: a softmax over the true class and ``num_sampled`` classes drawn
  from a known distribution :math:`Q`, with the logits corrected by :math:`\\log Q` and
  accidental hits removed, so that it approaches the full softmax as more classes are sampled.
- :func:`in_batch_softmax_loss`: the two-tower retrieval loss that uses the other items of the
  batch as negatives, with the logQ correction of Yi et al.; :class:`StreamingFrequencyEstimator`
  estimates the item frequencies it needs from the stream of batches.

The samplers (:func:`unigram_sampler`) draw on the device of their buffers with
``torch.rand`` + ``searchsorted`` on a precomputed cumulative distribution: O(n log C) per draw
and no copy to the host. Nothing in the losses' forward or backward passes reads a tensor's
value on the host; target values are checked only for eager CPU tensors. Half-precision inputs
and inputs produced under autocast are computed in float32 (autocast is switched off inside the
losses, whose dot products it would otherwise run in half precision again). ``torch.compile``
cannot trace a ``torch.Generator`` argument: to compile a training step, draw the candidates
outside it (``sampler.sample(n, generator)``) and pass them as ``candidates``, or sample from
the global generator (``generator=None``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks as C

__all__ = [
    "negative_sampling_loss",
    "NegativeSamplingLoss",
    "Sampler",
    "UnigramSampler",
    "unigram_sampler",
    "sampled_softmax_loss",
    "SampledSoftmaxLoss",
    "in_batch_softmax_loss",
    "InBatchSoftmaxLoss",
    "StreamingFrequencyEstimator",
]


def _pair_dtype(*tensors: Tensor) -> torch.dtype:
    """The compute dtype of several floating tensors: half precision becomes float32."""
    dtype = C.compute_dtype(tensors[0])
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, C.compute_dtype(t))
    return dtype


def _no_autocast(tensor: Tensor) -> torch.autocast:
    """A context that turns autocast off on ``tensor``'s device, so the upcast inputs stay in float32.

    The losses' dot products are matrix products, which autocast would run in half precision
    again after the inputs were upcast.
    """
    return torch.autocast(device_type=tensor.device.type, enabled=False)


def _check_matrix(tensor: object, name: str, layout: str) -> Tensor:
    tensor = C.check_floating(tensor, name)
    if tensor.dim() != 2:
        raise ValueError(f"{name} must have shape {layout}, got {tuple(tensor.shape)}")
    return tensor


# --------------------------------------------------------------------------- negative sampling
def negative_sampling_loss(center: Tensor, context: Tensor, negatives: Tensor, *, reduction: str = "mean") -> Tensor:
    r"""Word2vec's negative-sampling loss, computed from the dot products in log space.

    For a center vector :math:`v_c`, the vector :math:`u_o` of the context word actually seen
    with it, and :math:`K` sampled negative vectors :math:`u_1, \dots, u_K`,

    .. math::

        \ell = -\log\sigma(u_o^\top v_c) - \sum_{k=1}^{K} \log\sigma(-u_k^\top v_c)

    :cite:p:`mikolov2013distributed`, with :math:`\log\sigma` evaluated by ``logsigmoid`` so
    that the loss and its gradients stay finite for dot products of any size. The negatives are
    usually drawn from the unigram distribution raised to the power 3/4
    (:func:`unigram_sampler`). This is *not* an estimate of the softmax loss: each pair is
    scored by an independent logistic loss, and the optimal score is a shifted pointwise mutual
    information, :math:`\log\frac{p(o \mid c)}{K\, P_n(o)}`.

    Args:
        center: center (input) vectors :math:`v_c`, shape (N, D).
        context: context (output) vectors :math:`u_o` of the true pairs, shape (N, D).
        negatives: negative output vectors, (N, K, D) for K negatives per example, or (K, D) for
            K negatives shared by the whole batch. K may be 0.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``; ``"mean"`` averages over the N examples
            (0 for an empty batch).

    Shape:
        - center, context: (N, D)
        - negatives: (N, K, D) or (K, D)
        - output: scalar, or (N,) with ``reduction="none"``

    Returns:
        The loss, float32 for half-precision inputs.

    Example:
        >>> center = torch.tensor([[1.0, 0.0]])
        >>> context = torch.tensor([[2.0, 0.0]])
        >>> negatives = torch.tensor([[[-1.0, 0.0], [0.0, 3.0]]])
        >>> loss = negative_sampling_loss(center, context, negatives)
        >>> expected = -(F.logsigmoid(torch.tensor(2.0)) + F.logsigmoid(torch.tensor(1.0)) + F.logsigmoid(torch.tensor(0.0)))
        >>> torch.allclose(loss, expected)
        True
    """
    reduction = C.check_reduction(reduction)
    _check_matrix(center, "center", "(N, D)")
    C.check_same_shape(center, _check_matrix(context, "context", "(N, D)"), ("center", "context"))
    C.check_floating(negatives, "negatives")
    n, d = center.shape
    if negatives.dim() == 3:
        if negatives.shape[0] != n or negatives.shape[2] != d:
            raise ValueError(f"negatives must have shape (N, K, D) = ({n}, K, {d}), got {tuple(negatives.shape)}")
    elif negatives.dim() == 2:
        if negatives.shape[1] != d:
            raise ValueError(f"negatives must have shape (K, D) = (K, {d}) when shared, got {tuple(negatives.shape)}")
    else:
        raise ValueError(f"negatives must have shape (N, K, D) or (K, D), got {tuple(negatives.shape)}")
    C.check_same_device(("center", center), ("context", context), ("negatives", negatives))

    dtype = _pair_dtype(center, context, negatives)
    with _no_autocast(center):
        v, u, neg = center.to(dtype), context.to(dtype), negatives.to(dtype)
        positive = (v * u).sum(dim=1)
        if neg.dim() == 3:
            negative = torch.bmm(neg, v.unsqueeze(2)).squeeze(2)  # (N, K)
        else:
            negative = v @ neg.T  # (N, K)
        loss = -F.logsigmoid(positive) - F.logsigmoid(-negative).sum(dim=1)
        return C.reduce_loss(loss, reduction)


class NegativeSamplingLoss(nn.Module):
    """Module form of :func:`negative_sampling_loss`; ``forward(center, context, negatives)``.

    Example:
        >>> criterion = NegativeSamplingLoss()
        >>> criterion(torch.zeros(3, 4), torch.zeros(3, 4), torch.zeros(3, 5, 4))  # 6 log 2
        tensor(4.1589)
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = C.check_reduction(reduction)

    def forward(self, center: Tensor, context: Tensor, negatives: Tensor) -> Tensor:
        return negative_sampling_loss(center, context, negatives, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# --------------------------------------------------------------------------- samplers
class Sampler(Protocol):
    """What :func:`sampled_softmax_loss` needs from a sampler (any object with these two members).

    ``log_probs`` is the (C,) tensor of the log-probabilities :math:`\\log Q(j)` with which one
    draw returns class :math:`j`; ``sample(n, generator)`` returns n class indices (int64,
    shape (n,)) drawn independently, with replacement, on the device of ``log_probs``.
    """

    log_probs: Tensor

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...


class UnigramSampler(nn.Module):
    r"""Draws item indices with probability proportional to ``counts ** power``.

    .. math::

        Q(j) = \frac{c_j^{\,\alpha}}{\sum_k c_k^{\,\alpha}}

    with counts :math:`c` and ``power`` :math:`\alpha`: 1 samples by frequency, 0 uniformly,
    and word2vec's 3/4 in between :cite:p:`mikolov2013distributed`. Items with a count of 0
    are never drawn (their log-probability is :math:`-\infty`).

    Draws are independent, with replacement, by inverse transform sampling: a cumulative
    distribution (float64) is computed once, and ``sample`` looks up uniform numbers in it with
    ``searchsorted``, on the device of the buffers (``.to(device)`` moves the sampler) and
    without any copy to the host. The buffers ``log_probs`` and ``cdf`` are in ``state_dict``.

    Args:
        counts: non-negative, finite item counts of shape (C,), not all zero.
        power: the exponent :math:`\alpha \ge 0`.

    Example:
        >>> sampler = UnigramSampler(torch.tensor([3.0, 1.0, 0.0]), power=1.0)
        >>> sampler.log_probs.exp()
        tensor([0.7500, 0.2500, 0.0000])
        >>> draws = sampler.sample(1000, generator=torch.Generator().manual_seed(0))
        >>> draws.shape, int((draws == 2).sum())
        (torch.Size([1000]), 0)
    """

    log_probs: Tensor
    cdf: Tensor

    def __init__(self, counts: Tensor, *, power: float = 0.75) -> None:
        super().__init__()
        C.check_tensor(counts, "counts")
        if counts.dim() != 1 or counts.numel() == 0:
            raise ValueError(f"counts must have shape (C,) with C >= 1, got {tuple(counts.shape)}")
        if counts.dtype == torch.bool or counts.is_complex():
            raise TypeError(f"counts must be a real tensor, got dtype {counts.dtype}")
        self.power = C.check_number(power, "power", low=0.0)
        c = counts.detach().to(torch.float64)
        C.check_finite(c, "counts")
        C.check_values_in(c, "counts", 0.0, math.inf)
        if not bool((c > 0).any()):
            raise ValueError("counts must not be all zero")
        weights = torch.where(c > 0, c.pow(self.power), torch.zeros_like(c))
        probs = weights / weights.sum()
        cdf = torch.cumsum(probs, 0)
        cdf = cdf / cdf[-1]
        self.register_buffer("log_probs", probs.log().to(torch.float32))
        self.register_buffer("cdf", cdf)

    @property
    def num_items(self) -> int:
        """C, the number of items."""
        return self.cdf.shape[0]

    def log_prob(self, ids: Tensor) -> Tensor:
        """:math:`\\log Q` of the items ``ids`` (any shape of integer indices)."""
        C.check_integer(ids, "ids")
        return self.log_probs[ids]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` independent draws (int64, shape (n,)), with replacement, on the buffers' device."""
        n = C.check_int(n, "n", low=0)
        u = torch.rand(n, generator=generator, dtype=torch.float64, device=self.cdf.device)
        return torch.searchsorted(self.cdf, u, right=True).clamp_(max=self.num_items - 1)

    def extra_repr(self) -> str:
        return f"num_items={self.num_items}, power={self.power}"


def unigram_sampler(counts: Tensor, *, power: float = 0.75) -> UnigramSampler:
    """A :class:`UnigramSampler` over items with the given ``counts``: :math:`Q \\propto c^{\\alpha}`.

    Example:
        >>> sampler = unigram_sampler(torch.tensor([16.0, 1.0]), power=0.75)
        >>> sampler.log_probs.exp()  # 16 ** 0.75 = 8
        tensor([0.8889, 0.1111])
    """
    return UnigramSampler(counts, power=power)


# --------------------------------------------------------------------------- sampled softmax
def _check_optional_vector(
    value: Tensor | None, name: str, check_dtype: Callable[[object, str], Tensor], layout: str, length: int,
    tensors: list[tuple[str, Tensor]],
) -> None:
    """An optional 1-D tensor argument: its dtype, its shape ``layout = (length,)``, and its
    device added to ``tensors`` (checked together by the caller)."""
    if value is None:
        return
    check_dtype(value, name)
    if tuple(value.shape) != (length,):
        raise ValueError(f"{name} must have shape {layout} = ({length},), got {tuple(value.shape)}")
    tensors.append((name, value))


def sampled_softmax_loss(
    query: Tensor,
    weight: Tensor,
    target: Tensor,
    *,
    num_sampled: int,
    sampler: Sampler,
    remove_accidental_hits: bool = True,
    logq_correction: bool = True,
    logq_on_target: bool = False,
    bias: Tensor | None = None,
    candidates: Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Softmax cross-entropy over the true class and ``num_sampled`` sampled classes.

    The full softmax over C classes needs every logit :math:`s_j = q^\top w_j + b_j`. Sampled
    softmax draws :math:`S` = ``num_sampled`` classes :math:`j_1, \dots, j_S` from a proposal
    :math:`Q` (with replacement) and computes, for an example with true class :math:`y`,

    .. math::

        \ell = -s_y + \log\Big(e^{s_y} + \sum_{k=1}^{S} [j_k \ne y]\,
               e^{\,s_{j_k} - \log(S\, Q(j_k))}\Big)

    :cite:p:`bengio2008adaptive,jean2015using`. The sum is an unbiased estimate of
    :math:`\sum_{j \ne y} e^{s_j}` (each draw weighted by the inverse of its expected count
    :math:`S\,Q(j)`), so as :math:`S` grows the loss and its gradient approach those of the
    full softmax. Because the log of an unbiased estimate is biased downwards (Jensen), the
    sampled loss *underestimates* the full loss on average; the bias shrinks as :math:`S` grows.

    - ``logq_correction``: subtract :math:`\log(S\,Q(j))`, the log of the expected count, from
      each sampled logit. Without it the sampled classes are weighted by how often they are
      drawn, and the model learns :math:`\log p(j \mid q) - \log Q(j)` instead of
      :math:`\log p(j \mid q)` (popular classes are pushed down).
    - ``logq_on_target``: also subtract :math:`\log(S\,Q(y))` from the true logit, as
      TensorFlow's ``sampled_softmax_loss`` does. The true class is always in the candidate set,
      so its count is 1, not :math:`S\,Q(y)`; with this option the loss no longer tends to the
      full loss as :math:`S` grows (it grows like :math:`\log S`), which is why it is off by
      default. When it is on, the factor :math:`S` cancels and the loss equals TensorFlow's.
    - ``remove_accidental_hits``: a sampled class equal to the example's true class gets the
      logit :math:`-\infty` (it is not a negative). Without it the true class also counts
      against itself.

    With a uniform :math:`Q` and the candidates ``0, 1, ..., C-1`` (every class once), every
    correction :math:`\log(S\,Q) = \log(C / C)` is 0 and the loss *is* the full softmax
    cross-entropy.

    The classes are drawn inside the call, ``sampler.sample(num_sampled, generator)``, once per
    call and shared by the batch (pass ``generator`` to make it reproducible), unless
    ``candidates`` gives them. The sampling runs on the device without a host copy.

    Args:
        query: the last hidden layer, shape (N, D).
        weight: the output embeddings, shape (C, D), one row per class.
        target: true class indices (N,), integer dtype, values in [0, C).
        num_sampled: S, the number of sampled classes, in [1, C]. Sampling more classes than the
            catalogue holds is almost certainly a bug, so it raises.
        sampler: an object with ``log_probs`` (C,) and ``sample(n, generator)``, such as
            :class:`UnigramSampler`; see :class:`Sampler`.
        remove_accidental_hits: mask sampled classes equal to the target.
        logq_correction: subtract :math:`\log(S\,Q(j))` from the sampled logits.
        logq_on_target: subtract :math:`\log(S\,Q(y))` from the true logit too (TensorFlow's
            form; needs ``logq_correction``).
        bias: optional output bias (C,).
        candidates: optional sampled class indices (S,) drawn by the caller from ``sampler``
            (then nothing is drawn inside; S is ``num_sampled``).
        generator: the random generator of the draw.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``; ``"mean"`` averages over N (0 for an
            empty batch).

    Shape:
        - query: (N, D); weight: (C, D); target: (N,); bias: (C,)
        - output: scalar, or (N,) with ``reduction="none"``

    Returns:
        The loss, float32 for half-precision inputs.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> query, weight = torch.randn(4, 8, generator=g), torch.randn(100, 8, generator=g)
        >>> target = torch.tensor([0, 5, 50, 99])
        >>> sampler = unigram_sampler(torch.ones(100))
        >>> every = torch.arange(100)  # every class once, uniform Q: the full softmax
        >>> loss = sampled_softmax_loss(query, weight, target, num_sampled=100, sampler=sampler, candidates=every)
        >>> torch.allclose(loss, F.cross_entropy(query @ weight.T, target))
        True
    """
    reduction = C.check_reduction(reduction)
    _check_matrix(query, "query", "(N, D)")
    _check_matrix(weight, "weight", "(C, D)")
    n, d = query.shape
    num_classes = weight.shape[0]
    if weight.shape[1] != d:
        raise ValueError(f"weight must have shape (C, D) = (C, {d}) for query {tuple(query.shape)}, got {tuple(weight.shape)}")
    C.check_integer(target, "target")
    if tuple(target.shape) != (n,):
        raise ValueError(f"target must have shape (N,) = ({n},), got {tuple(target.shape)}")
    num_sampled = C.check_int(num_sampled, "num_sampled", low=1)
    if num_sampled > num_classes:
        raise ValueError(
            f"num_sampled must be at most the number of classes C = {num_classes} (rows of weight), got {num_sampled}"
        )
    log_q = getattr(sampler, "log_probs", None)
    if not isinstance(log_q, Tensor) or not callable(getattr(sampler, "sample", None)):
        raise TypeError(f"sampler must have a log_probs tensor and a sample(n, generator) method, got {type(sampler).__name__}")
    if tuple(log_q.shape) != (num_classes,):
        raise ValueError(
            f"sampler.log_probs must have shape (C,) = ({num_classes},) to match weight, got {tuple(log_q.shape)}"
        )
    if logq_on_target and not logq_correction:
        raise ValueError("logq_on_target=True needs logq_correction=True")
    tensors = [("query", query), ("weight", weight), ("target", target), ("sampler.log_probs", log_q)]
    _check_optional_vector(bias, "bias", C.check_floating, "(C,)", num_classes, tensors)
    _check_optional_vector(candidates, "candidates", C.check_integer, "(num_sampled,)", num_sampled, tensors)
    C.check_same_device(*tensors)
    C.check_values_in(target, "target", 0, num_classes - 1)
    if candidates is not None:
        C.check_values_in(candidates, "candidates", 0, num_classes - 1)
    else:
        if generator is not None and generator.device != log_q.device:
            raise ValueError(
                f"generator must be on the sampler's device {log_q.device}, got a generator on {generator.device}"
            )
        candidates = sampler.sample(num_sampled, generator)

    dtype = _pair_dtype(query, weight) if bias is None else _pair_dtype(query, weight, bias)
    with _no_autocast(query):
        x, w = query.to(dtype), weight.to(dtype)
        target = target.long()
        candidates = candidates.long()
        # one gather for the true and the sampled rows: the gradient of a dense (C, D) weight is
        # a dense (C, D) tensor, and two gathers would build it twice
        rows = torch.cat([target, candidates])
        w_rows = w[rows]
        true_logits = (x * w_rows[:n]).sum(dim=1)
        sampled_logits = x @ w_rows[n:].T
        if bias is not None:
            b_rows = bias.to(dtype)[rows]
            true_logits = true_logits + b_rows[:n]
            sampled_logits = sampled_logits + b_rows[n:]
        if logq_correction:
            log_s = math.log(num_sampled)
            sampled_logits = sampled_logits - (log_q[candidates].to(dtype) + log_s)
            if logq_on_target:
                true_logits = true_logits - (log_q[target].to(dtype) + log_s)
        if remove_accidental_hits:
            hit = candidates.unsqueeze(0) == target.unsqueeze(1)
            sampled_logits = sampled_logits.masked_fill(hit, -math.inf)
        logits = torch.cat([true_logits.unsqueeze(1), sampled_logits], dim=1)
        loss = torch.logsumexp(logits, dim=1) - true_logits
        return C.reduce_loss(loss, reduction)


class SampledSoftmaxLoss(nn.Module):
    """Module form of :func:`sampled_softmax_loss`; the sampler is a submodule when it is one.

    ``forward(query, weight, target, bias=None, candidates=None, generator=None)``; moving the
    module with ``.to(device)`` moves a :class:`UnigramSampler` with it.

    Example:
        >>> criterion = SampledSoftmaxLoss(num_sampled=2, sampler=unigram_sampler(torch.ones(5)))
        >>> loss = criterion(torch.zeros(3, 4), torch.zeros(5, 4), torch.tensor([0, 1, 2]),
        ...                  generator=torch.Generator().manual_seed(0))
        >>> loss.shape
        torch.Size([])
    """

    def __init__(
        self,
        *,
        num_sampled: int,
        sampler: Sampler,
        remove_accidental_hits: bool = True,
        logq_correction: bool = True,
        logq_on_target: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.num_sampled = C.check_int(num_sampled, "num_sampled", low=1)
        self.sampler = sampler
        self.remove_accidental_hits = bool(remove_accidental_hits)
        self.logq_correction = bool(logq_correction)
        self.logq_on_target = bool(logq_on_target)
        self.reduction = C.check_reduction(reduction)

    def forward(
        self,
        query: Tensor,
        weight: Tensor,
        target: Tensor,
        bias: Tensor | None = None,
        candidates: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        return sampled_softmax_loss(
            query,
            weight,
            target,
            num_sampled=self.num_sampled,
            sampler=self.sampler,
            remove_accidental_hits=self.remove_accidental_hits,
            logq_correction=self.logq_correction,
            logq_on_target=self.logq_on_target,
            bias=bias,
            candidates=candidates,
            generator=generator,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"num_sampled={self.num_sampled}, remove_accidental_hits={self.remove_accidental_hits}, "
            f"logq_correction={self.logq_correction}, logq_on_target={self.logq_on_target}, reduction={self.reduction!r}"
        )


# --------------------------------------------------------------------------- in-batch softmax
def in_batch_softmax_loss(
    query: Tensor,
    items: Tensor,
    *,
    temperature: float = 0.05,
    log_q: Tensor | None = None,
    item_ids: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""In-batch softmax (InfoNCE) for two-tower retrieval, with the optional logQ correction.

    Row :math:`i` of the batch pairs a query :math:`q_i` with the item :math:`v_i` it interacted
    with; the other items of the batch serve as its negatives. With the B x B scores
    :math:`s_{ij} = q_i^\top v_j / \tau` and the corrected scores
    :math:`s^c_{ij} = s_{ij} - \log p_j`,

    .. math::

        \ell_i = -s^c_{ii} + \log \sum_{j=1}^{B} e^{\,s^c_{ij}}

    :cite:p:`yi2019sampling`. The batch's items are drawn by popularity, so without the
    correction a popular item is a negative far more often than a rare one and the model learns
    to rank popular items down (it learns :math:`\log p(j \mid i) - \log p_j`); subtracting
    :math:`\log p_j` (``log_q``, e.g. from :class:`StreamingFrequencyEstimator`) undoes that, and
    the model learns the full softmax's :math:`\log p(j \mid i)`. The correction is subtracted
    after dividing by the temperature (it is in logit units), from every column, the diagonal
    included. Without ``log_q`` this is ``F.cross_entropy(q @ v.T / tau, arange(B))``.

    **Duplicates.** When the same item occurs in several rows of one batch, its other copies
    are, for row :math:`i`, negatives identical to the positive: they raise the loss by about
    :math:`\log(1 + \text{copies})` and push the pair's score nowhere useful. Pass ``item_ids``
    to mask them: a column :math:`j \ne i` with ``item_ids[j] == item_ids[i]`` is left out of
    row :math:`i`'s softmax.

    The default temperature 0.05 suits L2-normalized embeddings (cosine scores in [-1, 1]);
    with unnormalized dot products use a temperature near 1.

    Args:
        query: query-tower outputs (B, D).
        items: item-tower outputs (B, D); row i is query i's positive.
        temperature: :math:`\tau > 0`.
        log_q: optional :math:`\log p_j` of each row's item, shape (B,).
        item_ids: optional item identities (B,), integer dtype, to mask duplicates.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - query, items: (B, D); log_q, item_ids: (B,)
        - output: scalar, or (B,) with ``reduction="none"``

    Returns:
        The loss, float32 for half-precision inputs.

    Example:
        >>> q, v = torch.eye(3), torch.eye(3)
        >>> loss = in_batch_softmax_loss(q, v, temperature=1.0)
        >>> torch.allclose(loss, F.cross_entropy(q @ v.T, torch.arange(3)))
        True
    """
    reduction = C.check_reduction(reduction)
    temperature = C.check_number(temperature, "temperature", low=0.0, low_open=True)
    _check_matrix(query, "query", "(B, D)")
    _check_matrix(items, "items", "(B, D)")
    C.check_same_shape(query, items, ("query", "items"))
    b = query.shape[0]
    tensors = [("query", query), ("items", items)]
    _check_optional_vector(log_q, "log_q", C.check_floating, "(B,)", b, tensors)
    _check_optional_vector(item_ids, "item_ids", C.check_integer, "(B,)", b, tensors)
    C.check_same_device(*tensors)

    dtype = _pair_dtype(query, items)
    with _no_autocast(query):
        logits = query.to(dtype) @ items.to(dtype).T / temperature
        if log_q is not None:
            logits = logits - log_q.to(dtype).unsqueeze(0)
        if item_ids is not None:
            eye = torch.eye(b, dtype=torch.bool, device=logits.device)
            duplicate = (item_ids.unsqueeze(0) == item_ids.unsqueeze(1)) & ~eye
            logits = logits.masked_fill(duplicate, -math.inf)
        loss = torch.logsumexp(logits, dim=1) - logits.diagonal()
        return C.reduce_loss(loss, reduction)


class InBatchSoftmaxLoss(nn.Module):
    """Module form of :func:`in_batch_softmax_loss`; ``forward(query, items, log_q=None, item_ids=None)``.

    Example:
        >>> InBatchSoftmaxLoss(temperature=1.0)(torch.zeros(4, 2), torch.zeros(4, 2))  # log 4
        tensor(1.3863)
    """

    def __init__(self, *, temperature: float = 0.05, reduction: str = "mean") -> None:
        super().__init__()
        self.temperature = C.check_number(temperature, "temperature", low=0.0, low_open=True)
        self.reduction = C.check_reduction(reduction)

    def forward(self, query: Tensor, items: Tensor, log_q: Tensor | None = None, item_ids: Tensor | None = None) -> Tensor:
        return in_batch_softmax_loss(
            query, items, temperature=self.temperature, log_q=log_q, item_ids=item_ids, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, reduction={self.reduction!r}"


# --------------------------------------------------------------------------- streaming frequency
class StreamingFrequencyEstimator(nn.Module):
    r"""Estimates how often each item occurs in a stream of batches, in fixed memory.

    Yi et al.'s estimator :cite:p:`yi2019sampling` keeps two arrays over ``num_buckets`` hash
    buckets: :math:`A[h]`, the last step at which an item of bucket :math:`h` was seen, and
    :math:`B[h]`, a moving average of the number of steps between two sightings. At step
    :math:`t` (one call of :meth:`update`, i.e. one batch), for each item :math:`y` of the batch
    with :math:`h = \text{hash}(y)`:

    .. math::

        B[h] \leftarrow (1 - \alpha)\, B[h] + \alpha\, (t - A[h]), \qquad A[h] \leftarrow t,

    and the estimated frequency is :math:`p = 1 / B[h]`, in occurrences per step.

    **Duplicates in one batch.** :meth:`update` is vectorized and gives exactly the result of
    processing the batch's ids one after another at the same step :math:`t`: the first
    occurrence contributes the gap :math:`t - A[h]`, each further one a gap of 0. An item seen
    :math:`c` times in every batch converges to
    :math:`p = (1 - (1-\alpha)^c) / (\alpha (1-\alpha)^{c-1}) \approx c` (2.01 for
    :math:`c = 2`, :math:`\alpha = 0.01`), so :math:`p` estimates the expected number of
    occurrences per batch (divide by the batch size for a probability; for the logQ correction
    the constant does not matter). Colliding items share a
    bucket and its estimate.

    **Unseen buckets.** A bucket's first sighting at step :math:`t` sets :math:`B = t` (one
    sighting in :math:`t` steps) instead of averaging with the initial 0; a bucket never seen
    reports the frequency :math:`1/(t + 1)`.

    **Several processes.** Under data-parallel training every replica must see the same
    stream: call :meth:`update` with the ids of the global batch (``all_gather`` them first), so
    that all replicas keep identical arrays and compute the same :math:`\log p`.

    State lives in buffers (``last_step`` = A, ``gap`` = B, ``step`` = t), so ``state_dict``
    round-trips and ``.to(device)`` moves it. ``update`` runs on the device without host copies
    and in O(batch) time: a per-bucket scratch count is filled and cleared at the batch's
    buckets only.

    Args:
        num_buckets: H, the size of the arrays.
        alpha: the moving-average rate :math:`\alpha \in (0, 1)` (0.01 in the paper; 1 would let a
            duplicate in a batch set the gap to 0).
        hash: a function from integer ids to buckets in [0, H); default ``ids % H`` (exact for
            ids below H).

    Example:
        >>> est = StreamingFrequencyEstimator(10, alpha=0.1)
        >>> for _ in range(200):
        ...     est.update(torch.tensor([1, 1, 2]))  # item 1 twice per batch, item 2 once
        >>> est.log_probability(torch.tensor([1, 2, 3])).exp()  # 2.11 = 0.19 / 0.09; 3 never seen
        tensor([2.1111, 1.0000, 0.0050], dtype=torch.float64)
    """

    last_step: Tensor
    gap: Tensor
    step: Tensor
    _scratch: Tensor

    def __init__(
        self, num_buckets: int, *, alpha: float = 0.01, hash: Callable[[Tensor], Tensor] | None = None
    ) -> None:
        super().__init__()
        self.num_buckets = C.check_int(num_buckets, "num_buckets", low=1)
        self.alpha = C.check_number(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
        if hash is not None and not callable(hash):
            raise TypeError(f"hash must be callable, got {type(hash).__name__}")
        self.hash = hash
        self.register_buffer("last_step", torch.zeros(self.num_buckets, dtype=torch.int64))
        self.register_buffer("gap", torch.zeros(self.num_buckets, dtype=torch.float64))
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        self.register_buffer("_scratch", torch.zeros(self.num_buckets, dtype=torch.int64), persistent=False)

    def buckets(self, ids: Tensor) -> Tensor:
        """The hash buckets of ``ids`` (int64, same shape)."""
        C.check_integer(ids, "ids")
        C.check_same_device(("ids", ids), ("gap", self.gap))
        buckets = (ids.long() % self.num_buckets) if self.hash is None else self.hash(ids).long()
        if buckets.shape != ids.shape:
            raise ValueError(f"hash must return one bucket per id, shape {tuple(ids.shape)}, got {tuple(buckets.shape)}")
        C.check_values_in(buckets, "hash(ids)", 0, self.num_buckets - 1)
        return buckets

    @torch.no_grad()
    def update(self, ids: Tensor) -> None:
        """Advance the step by one and record the items ``ids`` (any shape) seen in it."""
        h = self.buckets(ids).flatten()
        self.step += 1
        t = self.step
        self._scratch.index_add_(0, h, torch.ones_like(h))
        count = self._scratch[h].to(torch.float64)  # occurrences of each element's bucket in this batch
        self._scratch.index_fill_(0, h, 0)
        last = self.last_step[h]
        gap = (t - last).to(torch.float64)
        keep = (1.0 - self.alpha) ** count
        averaged = keep * self.gap[h] + (1.0 - self.alpha) ** (count - 1.0) * self.alpha * gap
        first = (1.0 - self.alpha) ** (count - 1.0) * gap  # first sighting: B = t, then the duplicates' zeros
        new_gap = torch.where(last > 0, averaged, first)
        self.gap.index_put_((h,), new_gap)  # duplicates write the same value
        self.last_step.index_put_((h,), t.expand_as(h))

    def log_probability(self, ids: Tensor) -> Tensor:
        """:math:`\\log p = -\\log B[\\text{hash}(id)]` for ``ids`` (float64, same shape)."""
        h = self.buckets(ids)
        unseen = (self.step + 1).to(torch.float64)
        gap = torch.where(self.last_step[h] > 0, self.gap[h], unseen)
        return -torch.log(gap)

    def extra_repr(self) -> str:
        return f"num_buckets={self.num_buckets}, alpha={self.alpha}"
