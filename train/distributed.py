"""One process or many: torchrun's environment -> process group, device, and the model wrapper.

Under `torchrun --nproc_per_node N` each process reads RANK / WORLD_SIZE / LOCAL_RANK, joins a
process group (NCCL on GPUs, gloo on CPU) and wraps the model in DDP (replicated weights,
all-reduced gradients) or FSDP2 (`fully_shard` per block, then the root: sharded weights, gradients
and optimizer state). Without torchrun everything here is a no-op on one process.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass
class Dist:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> Dist:
    """Read torchrun's environment and join the process group; pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("train.device is cuda but torch sees no GPU; set train.device=cpu or auto")
    dev = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", device_id=dev if use_cuda else None)
    return Dist(rank, world, local, dev)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, d: Dist, parallel: str, bf16: bool) -> nn.Module:
    """DDP or FSDP2 around `model` when there are several processes; the model itself otherwise."""
    if not d.active:
        return model
    if parallel == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
        for block in model.blocks:
            fully_shard(block, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    # broadcast_buffers=False: each rank counts its own routed tokens (summed by `all_reduce_sum`
    # before the bias update); the biases themselves stay equal because every rank applies the same
    # update to the same summed counts.
    return DDP(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None, broadcast_buffers=False)


def unwrap(model: nn.Module) -> nn.Module:
    """The Transformer inside a DDP or compiled wrapper (FSDP2 keeps the module itself)."""
    model = getattr(model, "_orig_mod", model)
    return getattr(model, "module", model)


def no_grad_sync(model: nn.Module, sync: bool):
    """Skip the gradient all-reduce on all but the last micro-batch of an accumulated step."""
    if sync:
        return contextlib.nullcontext()
    if hasattr(model, "no_sync"):  # DDP
        return model.no_sync()
    if hasattr(model, "set_requires_gradient_sync"):  # FSDP2
        @contextlib.contextmanager
        def fsdp_no_sync():
            model.set_requires_gradient_sync(False)
            try:
                yield
            finally:
                model.set_requires_gradient_sync(True)
        return fsdp_no_sync()
    return contextlib.nullcontext()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_gather_objects(obj):
    """[obj of rank 0, obj of rank 1, ...] (a list of one on a single process)."""
    if not dist.is_initialized():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
