"""Speed of the focal losses against BCE / cross-entropy and the usual formulas, in one run.

Cases (forward + backward, mean reduction):
- sigmoid, 4,194,304 logits (4096 x 1024, 10% positives): ``binary_cross_entropy_with_logits``
  (baseline), ``losscookbook.sigmoid_focal_loss`` (gamma 2 and 0.5), the torchvision formula
  (written out below, as ``torchvision.ops.sigmoid_focal_loss`` computes it) and kornia's
  ``binary_focal_loss_with_logits`` when kornia is installed.
- softmax, 50,000 x 80 logits: ``cross_entropy`` (baseline), ``losscookbook.softmax_focal_loss``
  and kornia's ``focal_loss`` when installed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import losscookbook as lc
from harness import Case, child, run_cases

try:  # optional: only for the comparison
    import kornia.losses as kl
except ImportError:  # pragma: no cover
    kl = None


def torchvision_style_sigmoid_focal(x: torch.Tensor, y: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """The formula of ``torchvision.ops.sigmoid_focal_loss`` (probabilities, then a power)."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    return (alpha_t * loss).mean()


def cases(device: torch.device) -> list[Case]:
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(4096, 1024, generator=g) * 3).to(device)
    y = (torch.rand(4096, 1024, generator=g) < 0.1).float().to(device)
    sigmoid = {
        "BCEWithLogits": lambda a, b: F.binary_cross_entropy_with_logits(a, b),
        "losscookbook gamma=2": lambda a, b: lc.sigmoid_focal_loss(a, b, alpha=0.25, gamma=2.0),
        "losscookbook gamma=0.5": lambda a, b: lc.sigmoid_focal_loss(a, b, alpha=0.25, gamma=0.5),
        "torchvision formula gamma=2": torchvision_style_sigmoid_focal,
    }
    if kl is not None:
        sigmoid["kornia binary_focal gamma=2"] = lambda a, b: kl.binary_focal_loss_with_logits(a, b, alpha=0.25, gamma=2.0, reduction="mean")
    logits = (torch.randn(50_000, 80, generator=g) * 3).to(device)
    t = torch.randint(0, 80, (50_000,), generator=g).to(device)
    softmax = {
        "cross_entropy": lambda a, b: F.cross_entropy(a, b),
        "losscookbook softmax gamma=2": lambda a, b: lc.softmax_focal_loss(a, b, gamma=2.0),
    }
    if kl is not None:
        softmax["kornia focal_loss gamma=2"] = lambda a, b: kl.focal_loss(a, b, alpha=None, gamma=2.0, reduction="mean")
    return [
        Case("sigmoid 4096x1024", sigmoid, (x, y), "BCEWithLogits"),
        Case("softmax 50000x80", softmax, (logits, t), "cross_entropy"),
    ]


def main(device: torch.device) -> None:
    run_cases("focal", __file__, cases, device)


if __name__ == "__main__" and not child(cases):
    from losscookbook.training import default_device

    main(default_device())
