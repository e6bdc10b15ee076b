"""Speed of the vectorized GHM-C against the widely used loop-over-bins implementation.

The reference below follows the structure of the popular detection-library implementation:
a Python loop over the bins with a boolean mask, a ``.item()`` (a host synchronisation on a
GPU) per bin and one for the total. Both use 30 bins and momentum 0.75 (the paper's setting),
forward + backward, at several numbers of logits, eager and compiled (the loop only eager);
``binary_cross_entropy_with_logits`` is the baseline of every ratio.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import losscookbook as lc
from harness import Case, child, run_cases


class LoopGHMC(torch.nn.Module):
    """GHM-C written the common way: a Python loop over the bins with per-bin host syncs."""

    def __init__(self, bins: int = 30, momentum: float = 0.75) -> None:
        super().__init__()
        self.bins = bins
        self.momentum = momentum
        edges = torch.arange(bins + 1).float() / bins
        edges[-1] += 1e-6
        self.register_buffer("edges", edges)
        self.register_buffer("acc_sum", torch.zeros(bins))

    def forward(self, pred: torch.Tensor, target: torch.Tensor, label_weight: torch.Tensor) -> torch.Tensor:
        edges, mmt = self.edges, self.momentum
        weights = torch.zeros_like(pred)
        g = torch.abs(pred.sigmoid().detach() - target)
        valid = label_weight > 0
        tot = max(valid.float().sum().item(), 1.0)
        n = 0
        for i in range(self.bins):
            inds = (g >= edges[i]) & (g < edges[i + 1]) & valid
            num_in_bin = inds.sum().item()
            if num_in_bin > 0:
                if mmt > 0:
                    self.acc_sum[i] = mmt * self.acc_sum[i] + (1 - mmt) * num_in_bin
                    weights[inds] = tot / self.acc_sum[i]
                else:
                    weights[inds] = tot / num_in_bin
                n += 1
        if n > 0:
            weights = weights / n
        loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none")
        return (loss * weights).sum() / tot


SIZES = (65_536, 1_048_576, 4_194_304)
LOOP = "loop over bins (reference)"


def _inputs(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(n)
    x = (torch.randn(n, generator=g) * 3).to(device)
    y = (torch.rand(n, generator=g) < 0.1).float().to(device)
    return x, y


def cases(device: torch.device) -> list[Case]:
    out = []
    for n in SIZES:
        x, y = _inputs(n, device)
        ones = torch.ones(n, device=device)
        loop = LoopGHMC(30, 0.75).to(device)
        ours = lc.GHMCLoss(bins=30, momentum=0.75).to(device)
        impls = {
            LOOP: lambda a, b, loop=loop, ones=ones: loop(a, b, ones),
            "losscookbook GHMCLoss": lambda a, b, ours=ours: ours(a, b),
            "losscookbook ghmc_loss": lambda a, b: lc.ghmc_loss(a, b, bins=30),
            "BCEWithLogits": lambda a, b: F.binary_cross_entropy_with_logits(a, b),
        }
        # the loop reads a count back to the host once per bin: it is not compiled (a graph break per bin)
        out.append(Case(f"{n} logits, 30 bins", impls, (x, y), "BCEWithLogits", eager_only=(LOOP,)))
    return out


def main(device: torch.device) -> None:
    # the two agree (same moving average after the same calls) before anything is timed
    for n in SIZES:
        x, y = _inputs(n, device)
        ones = torch.ones(n, device=device)
        check_loop, check_ours = LoopGHMC(30, 0.75).to(device), lc.GHMCLoss(bins=30, momentum=0.75).to(device)
        for _ in range(3):
            a, b = check_loop(x, y, ones), check_ours(x, y)
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)
    run_cases("ghm", __file__, cases, device)


if __name__ == "__main__" and not child(cases):
    from losscookbook.training import default_device

    main(default_device())
