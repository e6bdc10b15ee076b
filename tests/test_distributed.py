"""losscookbook.distributed: two processes (gloo, CPU) against one process on the whole batch.

The worker runs every check in one spawn (starting processes costs seconds) and sends plain
lists back through a queue; the assertions run in the parent.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import losscookbook as lc
from losscookbook import distributed as D

WORLD = 2
N = 12  # rows per process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _global_batch():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(WORLD * N, 4, generator=g, dtype=torch.float64)
    logits = torch.randn(WORLD * N, generator=g) * 3
    target = (torch.rand(WORLD * N, generator=g) < 0.3).float()
    classes = torch.randint(0, 5, (WORLD * N,), generator=g)
    classes[::7] = -100
    return x, logits, target, classes


def _gathered_loss(x_all: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """A loss of some anchors against every row: logsumexp of their dot products."""
    return torch.logsumexp(anchors @ x_all.T, dim=1).sum()


def _ddp_average(param_grad: torch.Tensor) -> torch.Tensor:
    grad = param_grad.clone()
    dist.all_reduce(grad)
    return grad / dist.get_world_size()


def _worker(rank: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        x_all, logits_all, target_all, classes_all = _global_batch()
        rows = slice(rank * N, (rank + 1) * N)
        out: dict[str, object] = {"world": D.world_size()}

        # all_gather_with_grad: each process's anchors against the gathered rows
        x = x_all[rows].clone().requires_grad_(True)
        gathered = D.all_gather_with_grad(x)
        out["gathered_equal"] = bool(torch.equal(gathered.detach(), x_all))
        _gathered_loss(gathered, x).backward()
        out["gather_grad"] = x.grad.tolist()

        # focal loss with the DDP mean normaliser: averaged weight gradient
        w = torch.tensor(1.5, requires_grad=True)
        target = target_all[rows]
        loss = lc.sigmoid_focal_loss(w * logits_all[rows], target, normalizer=D.mean_normalizer(target.sum()))
        loss.backward()
        out["focal_grad"] = float(_ddp_average(w.grad))

        # GHM-C with distributed bin counts, two steps of the moving average
        ghm = lc.GHMCLoss(bins=10, momentum=0.75, distributed=True)
        grads = []
        for step in range(2):
            w = torch.tensor(1.0 + step, requires_grad=True)
            ghm(w * logits_all[rows], target).backward()
            grads.append(float(_ddp_average(w.grad)))
        out["ghm_grads"] = grads
        out["ghm_acc"] = ghm.acc_sum.tolist()

        # batch-hard mining over the global batch: the loss of the whole batch on every process
        x = x_all[rows].clone().requires_grad_(True)
        labels = (torch.arange(WORLD * N) % 4)[rows]
        loss = lc.batch_hard_triplet_loss(D.all_gather_with_grad(x), D.all_gather_with_grad(labels))
        loss.backward()
        out["mined_loss"] = float(loss.detach())
        out["mined_grad"] = x.grad.tolist()

        out["class_counts"] = D.global_class_counts(classes_all[rows], 5, ignore_index=-100).tolist()
        queue.put((rank, out))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def results() -> dict[int, dict]:
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.start_processes(_worker, args=(_free_port(), queue), nprocs=WORLD, start_method="spawn", join=True)
    return dict(queue.get() for _ in range(WORLD))


def test_every_process_sees_the_world(results):
    assert [results[r]["world"] for r in range(WORLD)] == [WORLD] * WORLD
    assert all(results[r]["gathered_equal"] for r in range(WORLD))


def test_all_gather_with_grad_gives_the_gradient_of_the_summed_losses(results):
    x_all, *_ = _global_batch()
    x = x_all.clone().requires_grad_(True)
    total = sum(_gathered_loss(x, x[r * N : (r + 1) * N]) for r in range(WORLD))
    total.backward()
    for r in range(WORLD):
        torch.testing.assert_close(torch.tensor(results[r]["gather_grad"], dtype=torch.float64), x.grad[r * N : (r + 1) * N])


def test_mean_normalizer_makes_ddp_average_the_global_mean(results):
    _, logits_all, target_all, _ = _global_batch()
    w = torch.tensor(1.5, requires_grad=True)
    lc.sigmoid_focal_loss(w * logits_all, target_all, normalizer=target_all.sum()).backward()
    for r in range(WORLD):
        assert results[r]["focal_grad"] == pytest.approx(float(w.grad), rel=1e-5)


def test_distributed_ghm_equals_one_process_on_the_whole_batch(results):
    _, logits_all, target_all, _ = _global_batch()
    ghm = lc.GHMCLoss(bins=10, momentum=0.75)
    expected = []
    for step in range(2):
        w = torch.tensor(1.0 + step, requires_grad=True)
        ghm(w * logits_all, target_all).backward()
        expected.append(float(w.grad))
    for r in range(WORLD):
        assert results[r]["ghm_grads"] == pytest.approx(expected, rel=1e-5)
        assert results[r]["ghm_acc"] == pytest.approx(ghm.acc_sum.tolist(), rel=1e-6)


def test_mining_over_the_gathered_batch_gives_w_times_the_single_process_gradient(results):
    x_all, *_ = _global_batch()
    x = x_all.clone().requires_grad_(True)
    loss = lc.batch_hard_triplet_loss(x, torch.arange(WORLD * N) % 4)
    loss.backward()
    for r in range(WORLD):
        assert results[r]["mined_loss"] == pytest.approx(float(loss.detach()), rel=1e-12)
        # DDP's average over the W processes turns W times the gradient into the gradient
        torch.testing.assert_close(
            torch.tensor(results[r]["mined_grad"], dtype=torch.float64), WORLD * x.grad[r * N : (r + 1) * N]
        )


def test_global_class_counts(results):
    *_, classes_all = _global_batch()
    kept = classes_all[classes_all != -100]
    expected = torch.bincount(kept, minlength=5).double().tolist()
    for r in range(WORLD):
        assert results[r]["class_counts"] == expected


def test_single_process_functions_are_identities():
    x = torch.randn(3, 2)
    assert D.all_gather_with_grad(x) is x
    assert D.world_size() == 1 and not D.is_distributed()
    torch.testing.assert_close(D.mean_normalizer(7), torch.tensor(7.0))
    with pytest.raises(ValueError, match=r"target values must be in \[0, 2\], got 3"):
        D.global_class_counts(torch.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="distributed must be a bool"):
        lc.GHMCLoss(distributed=1)
