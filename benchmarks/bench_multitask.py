"""Multi-task weighting: time of one training step per method, relative to the plain sum.

A step is: zero the gradients, forward a shared-trunk MLP with 3 task heads, compute the 3
task losses, combine them (the method under test), backward, optimizer step. All methods run
round-robin in one process (``measure_interleaved``) on the same batch, each with its own
copy of the same model, so the ratios compare like with like. Baseline: ``SumWeighting``.

Expected: the weightings that only change the total (fixed, uncertainty, DWA) cost a handful
of element-wise ops on a 3-vector, nothing next to the network; GradNorm adds one
``autograd.grad`` per task down to the last shared layer (the heads' backward and that layer's
weight gradient, T times); PCGrad runs one full backward per task (3 instead of 1) plus the
projection, two (3, P) matrix products. Two trunks show how GradNorm's cost depends on the
share of the trunk's work done by its last layer: about 80 % in the 2-layer trunk (the worst
case), about 30 % in the 4-layer one.
"""

from __future__ import annotations

import torch
from harness import RESULTS, measure_interleaved, report

import losscookbook as lc


class SharedTrunk(torch.nn.Module):
    def __init__(self, d_in: int, widths: list[int], tasks: int) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        for a, b in zip([d_in, *widths[:-1]], widths):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        self.trunk = torch.nn.Sequential(*layers)
        self.heads = torch.nn.ModuleList(torch.nn.Linear(widths[-1], 1) for _ in range(tasks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x)
        return torch.cat([head(h) for head in self.heads], dim=1)


def make_weighting(method: str, tasks: int, device: torch.device) -> lc.LossWeighting:
    return {
        "sum (baseline)": lambda: lc.SumWeighting(tasks),
        "fixed": lambda: lc.FixedWeighting([1.0, 0.5, 2.0]),
        "uncertainty": lambda: lc.UncertaintyWeighting(tasks),
        "uncertainty, positive": lambda: lc.UncertaintyWeighting(tasks, positive=True),
        "DWA (end_epoch every step)": lambda: lc.DynamicWeightAverage(tasks),
        "DWA (end_epoch every 50 steps)": lambda: lc.DynamicWeightAverage(tasks),
        "GradNorm": lambda: lc.GradNorm(tasks, alpha=1.5),
        "PCGrad": lambda: lc.PCGrad(tasks, generator=torch.Generator().manual_seed(0)),
    }[method]().to(device)


def make_step(method: str, model: SharedTrunk, x: torch.Tensor, y: torch.Tensor, device: torch.device):
    tasks = y.shape[1]
    weighting = make_weighting(method, tasks, device)
    params = list(model.parameters())
    optimizer = torch.optim.SGD([{"params": params}, {"params": list(weighting.parameters())}], lr=1e-3)
    shared = model.trunk[-2].weight  # the last shared layer
    period = 1 if "every step" in method else 50
    calls = [0]

    def one_step() -> None:
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

    def step() -> None:  # a few steps per timed call, to average out the machine's noise
        for _ in range(STEPS_PER_CALL):
            one_step()

    return step


STEPS_PER_CALL = 3
CALLS_PER_TIMING = 50


def make_call(method: str, leaves: list[torch.Tensor], device: torch.device):
    weighting = make_weighting(method, len(leaves), device)
    every_step = "every step" in method

    def call() -> None:
        for _ in range(CALLS_PER_TIMING):
            weighting(leaves).backward()
            if every_step:
                weighting.end_epoch()

    return call


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
    if device.type == "cpu":
        sizes = [(256, 64, [256, 256]), (256, 128, [512] * 4)]
    else:
        sizes = [(4096, 256, [1024, 1024]), (4096, 256, [2048] * 4)]
    for batch, d_in, widths in sizes:
        case = f"batch {batch}, trunk {d_in}-" + "-".join(map(str, widths)) + ", 3 heads"
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch, d_in, generator=g).to(device)
        y = torch.randn(batch, 3, generator=g).to(device)
        steps = {}
        for method in METHODS:
            torch.manual_seed(0)
            model = SharedTrunk(d_in, widths, 3).to(device)  # one model per method: same shapes, own state
            steps[method] = make_step(method, model, x, y, device)
        stats = measure_interleaved(steps, device=device, warmup=3, rounds=50)
        for method in METHODS:
            per_step = {k: v / STEPS_PER_CALL if k.endswith("_s") else v for k, v in stats[method].items()}
            rows.append({"case": case, "impl": method, "baseline": "sum (baseline)", **per_step})
    # the weighting call alone (forward and backward on 3 scalar losses): its absolute cost,
    # to set against the step times above, free of the noise of a whole step
    case = "weighting call alone (3 scalar losses, forward + backward)"
    leaves = [torch.tensor(v, device=device, requires_grad=True) for v in (0.5, 1.0, 2.0)]
    calls = {}
    for method in METHODS[:6]:
        calls[method] = make_call(method, leaves, device)
    stats = measure_interleaved(calls, device=device, warmup=3, rounds=50)
    for method in METHODS[:6]:
        per_call = {k: v / CALLS_PER_TIMING if k.endswith("_s") else v for k, v in stats[method].items()}
        rows.append({"case": case, "impl": method, "baseline": "sum (baseline)", **per_call})
    report("multitask", device, rows)
    # the interquartile ranges, which the shared table does not show
    path = RESULTS / f"multitask-{device.type}.md"
    lines = [
        "",
        f"Times are per training step (each timed call runs {STEPS_PER_CALL} steps; {stats[METHODS[0]]['rounds']} rounds).",
        "GradNorm adds one gradient per task down to the last shared layer; PCGrad one full backward per task.",
        "",
        "",
        "Added cost of the weighting call over the plain sum's call, as a share of the plain-sum step",
        "(an estimate that the noise of whole steps does not swamp):",
        "",
    ]
    alone = {r["impl"]: r["median_s"] for r in rows if r["case"] == case}
    for step_case in dict.fromkeys(r["case"] for r in rows if r["case"] != case):
        base = next(r["median_s"] for r in rows if r["case"] == step_case and r["impl"] == METHODS[0])
        shares = ", ".join(f"{m} {100 * (alone[m] - alone[METHODS[0]]) / base:+.1f} %" for m in METHODS[1:6])
        lines.append(f"- {step_case}: {shares}")
    lines += ["", "Interquartile ranges (ms):", ""]
    lines += [f"- {r['case']} / {r['impl']}: {1e3 * r['q1_s']:.2f} to {1e3 * r['q3_s']:.2f}" for r in rows]
    path.write_text(path.read_text() + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
