"""Label smoothing: forward+backward time against torch's built-in and a common hand-written form.

Cases: classification logits (N, C) with class-index targets, with and without class weights
and ignored targets. Baseline: torch.nn.functional.cross_entropy(..., label_smoothing=0.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from harness import Case, child, run_cases

import losscookbook as lc


def handwritten(logits, target, smoothing=0.1):
    """The form found in many code bases (timm's LabelSmoothingCrossEntropy): no weight, no ignore_index."""
    logp = F.log_softmax(logits, dim=-1)
    nll = -logp.gather(-1, target.unsqueeze(1)).squeeze(1)
    return ((1 - smoothing) * nll - smoothing * logp.mean(-1)).mean()


def cases(device: torch.device) -> list[Case]:
    out = []
    sizes = [(4096, 1000), (65536, 100)] if device.type == "cpu" else [(65536, 1000), (262144, 100)]
    for n, c in sizes:
        g = torch.Generator().manual_seed(0)
        logits = torch.randn(n, c, generator=g).to(device)
        target = torch.randint(0, c, (n,), generator=g).to(device)
        weight = torch.rand(c, generator=g).to(device)
        ignored = target.clone()
        ignored[::7] = -100
        for case, kwargs, t in [
            (f"{n}x{c}", {}, target),
            (f"{n}x{c} weight+ignore", dict(weight=weight, ignore_index=-100), ignored),
        ]:
            impls = {
                "torch cross_entropy": lambda x, y, kw=kwargs: F.cross_entropy(x, y, label_smoothing=0.1, **kw),
                "losscookbook": lambda x, y, kw=kwargs: lc.label_smoothing_cross_entropy(x, y, smoothing=0.1, **kw),
            }
            if not kwargs:
                impls["hand-written (timm style)"] = handwritten
            out.append(Case(case, impls, (logits, t), "torch cross_entropy"))
    return out


def main(device: torch.device) -> None:
    run_cases("smoothing", __file__, cases, device)


if __name__ == "__main__" and not child(cases):
    main(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
