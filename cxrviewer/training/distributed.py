"""Multi-process training with PyTorch DDP, with the same config as a single-process run.

Under `torchrun` (RANK / WORLD_SIZE / MASTER_ADDR set in the environment) `run.train` joins the
process group by itself: `torchrun --nproc-per-node 4 -m cxrviewer train --config FILE`.
`training.launch` starts N local processes without torchrun (CPU tests, a workstation with several GPUs).
Only rank 0 writes files and reports progress; every rank sees its own shard of the training set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_type: str) -> DistContext:
    """Join the process group described by the environment, if any (gloo on CPU, nccl on GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    ctx = DistContext(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", os.environ["RANK"])))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo", rank=ctx.rank, world_size=world)
    return ctx


def mean_across(value: float, ctx: DistContext) -> float:
    """The mean of a scalar over all ranks (identity when not distributed)."""
    if not ctx.active:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / ctx.world_size


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()

