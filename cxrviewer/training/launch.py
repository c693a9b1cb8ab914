"""Start a DDP run in N local processes without torchrun (CPU tests, a workstation with several GPUs).

Each process sets the environment torchrun would (RANK, WORLD_SIZE, MASTER_ADDR/PORT) and calls
`run.train`, which joins the process group itself (`training.distributed.init_from_env`). Kept apart
from `distributed`, which `run` imports, so that the two do not import each other.
"""

from __future__ import annotations

import os
import socket

import torch.multiprocessing as mp

from cxrviewer.training.config import TrainConfig
from cxrviewer.training.run import train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, config: TrainConfig, resume: bool) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    train(config, resume=resume)


def launch(config: TrainConfig, nprocs: int, *, resume: bool = False) -> None:
    """Run `train(config)` in `nprocs` local processes joined by DDP (gloo on CPU, nccl on GPU)."""
    mp.spawn(_worker, args=(nprocs, _free_port(), config, resume), nprocs=nprocs, join=True)
