"""Multi-task weighting: time of one training step per method, relative to the plain sum.

A step is: zero the gradients, forward a shared-trunk MLP with 3 task heads, compute the 3
task losses, combine them (the method under test), backward, optimizer step. All methods run
round-robin in one process (``measure_interleaved``) on the same model and batch, so the
ratios compare like with like. Baseline: ``SumWeighting`` (the plain sum).

Expected: the weightings that only change the total (fixed, uncertainty, DWA) cost a handful
of element-wise ops on a 3-vector, nothing next to the network; GradNorm adds one
``autograd.grad`` per task through the heads and the last shared layer; PCGrad runs one full
backward per task (3 instead of 1) plus the projection on a (3, P) matrix.
"""

from __future__ import annotations

import torch
from harness import RESULTS, measure_interleaved, report

import losscookbook as lc


class SharedTrunk(torch.nn.Module):
    def __init__(self, d_in: int, hidden: int, tasks: int) -> None:
        super().__init__()
        self.trunk = torch.nn.Sequential(
            torch.nn.Linear(d_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden), torch.nn.ReLU()
        )
        self.heads = torch.nn.ModuleList(torch.nn.Linear(hidden, 1) for _ in range(tasks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x)
        return torch.cat([head(h) for head in self.heads], dim=1)


def make_step(method: str, model: SharedTrunk, x: torch.Tensor, y: torch.Tensor, device: torch.device):
    tasks = y.shape[1]
    weighting = {
        "sum (baseline)": lambda: lc.SumWeighting(tasks),
        "fixed": lambda: lc.FixedWeighting([1.0, 0.5, 2.0]),
        "uncertainty": lambda: lc.UncertaintyWeighting(tasks),
        "uncertainty, positive": lambda: lc.UncertaintyWeighting(tasks, positive=True),
        "DWA (end_epoch every step)": lambda: lc.DynamicWeightAverage(tasks),
        "DWA (end_epoch every 50 steps)": lambda: lc.DynamicWeightAverage(tasks),
        "GradNorm": lambda: lc.GradNorm(tasks, alpha=1.5),
        "PCGrad": lambda: lc.PCGrad(tasks, generator=torch.Generator().manual_seed(0)),
    }[method]().to(device)
    params = list(model.parameters())
    optimizer = torch.optim.SGD([{"params": params}, {"params": list(weighting.parameters())}], lr=1e-3)
    shared = model.trunk[2].weight
    period = 1 if "every step" in method else 50
    calls = [0]

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out = model(x)
        losses = [(out[:, i] - y[:, i]).square().mean() for i in range(tasks)]
        if isinstance(weighting, lc.PCGrad):
            weighting.backward(losses, params)
        else:
            total = weighting(losses, shared) if isinstance(weighting, lc.GradNorm) else weighting(losses)
            total.backward()
            calls[0] += 1
            if isinstance(weighting, lc.DynamicWeightAverage) and calls[0] % period == 0:
                weighting.end_epoch()
        optimizer.step()

    return step


METHODS = [
    "sum (baseline)",
    "fixed",
    "uncertainty",
    "uncertainty, positive",
    "DWA (end_epoch every step)",
    "DWA (end_epoch every 50 steps)",
    "GradNorm",
    "PCGrad",
]


def main(device: torch.device) -> None:
    rows = []
    sizes = [(256, 64, 256), (1024, 128, 512)] if device.type == "cpu" else [(4096, 256, 1024), (16384, 256, 2048)]
    for batch, d_in, hidden in sizes:
        case = f"batch {batch}, MLP {d_in}-{hidden}-{hidden}, 3 heads"
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch, d_in, generator=g).to(device)
        y = torch.randn(batch, 3, generator=g).to(device)
        steps = {}
        for method in METHODS:
            torch.manual_seed(0)
            model = SharedTrunk(d_in, hidden, 3).to(device)  # one model per method: same shapes, own state
            steps[method] = make_step(method, model, x, y, device)
        stats = measure_interleaved(steps, device=device, warmup=5, rounds=60)
        for method in METHODS:
            rows.append({"case": case, "impl": method, "baseline": "sum (baseline)", **stats[method]})
    report("multitask", device, rows)
    # the interquartile ranges, which the shared table does not show
    path = RESULTS / f"multitask-{device.type}.md"
    lines = ["", "Interquartile ranges (ms), from the same rounds:", ""]
    lines += [f"- {r['case']} / {r['impl']}: {1e3 * r['q1_s']:.2f} to {1e3 * r['q3_s']:.2f}" for r in rows]
    path.write_text(path.read_text() + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
