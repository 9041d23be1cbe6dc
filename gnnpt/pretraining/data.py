"""Batches for pretraining straight from the packed store.

The DataLoader yields only tensors of graph ids; ``transfer_batch_to_device`` gathers the graphs
from a store that lives on the training device, so no per-molecule object is ever built and, on a
GPU, batching happens on the GPU. The shuffle depends only on (seed, epoch, rank), so a resumed run
sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler

from gnnpt.store.packed import GraphBatch, PackedGraphs


class EpochShuffleSampler(Sampler[int]):
    """Positions ``0..n-1`` in a seeded order per epoch, split across distributed ranks.

    Every rank gets the same number of positions (the order is padded by repeating its start, as
    ``DistributedSampler`` does): ranks with different numbers of batches would wait for each other forever.
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True):
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rank(self) -> tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch))
        else:
            order = torch.arange(self.n)
        rank, world = self._rank()
        padded = -(-self.n // world) * world
        if padded > self.n:
            order = torch.cat([order, order[: padded - self.n]])
        return iter(order[rank::world].tolist())

    def __len__(self) -> int:
        _, world = self._rank()
        return -(-self.n // world)


class PackedDataModule(pl.LightningDataModule):
    """Serves shuffled batches of the valid graphs of a ``PackedGraphs`` store.

    ``graph_targets`` (one row per graph of the store, e.g. standardized descriptors) are gathered with each
    batch into ``GraphBatch.y``.
    """

    def __init__(self, store: PackedGraphs, batch_size: int = 256, seed: int = 0, drop_last: bool = True,
                 graph_targets: torch.Tensor | None = None):  # fmt: skip
        super().__init__()
        self.store, self.batch_size, self.seed, self.drop_last = store, batch_size, seed, drop_last
        if graph_targets is not None and len(graph_targets) != len(store):
            raise ValueError(f"{len(graph_targets)} rows of graph targets for {len(store)} graphs")
        self.graph_targets = graph_targets
        self._device_graph_targets: torch.Tensor | None = None
        self.ids = torch.from_numpy(np.asarray(store.valid_ids, dtype=np.int64))
        if len(self.ids) < batch_size and drop_last:
            raise ValueError(f"the corpus has {len(self.ids)} valid graphs, fewer than one batch of {batch_size}")
        self._device_store: PackedGraphs | None = None

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.ids,
            batch_size=self.batch_size,
            sampler=EpochShuffleSampler(len(self.ids), self.seed),
            drop_last=self.drop_last,
            collate_fn=torch.stack,
        )

    def transfer_batch_to_device(self, batch: torch.Tensor, device: torch.device, dataloader_idx: int) -> GraphBatch:
        if self._device_store is None or self._device_store.device != device:
            self._device_store = self.store.to(device)
        ids = batch.to(device)
        graphs = self._device_store.gather(ids)
        if self.graph_targets is None:
            return graphs
        if self._device_graph_targets is None or self._device_graph_targets.device != device:
            self._device_graph_targets = self.graph_targets.to(device)
        graphs.y = self._device_graph_targets[ids]
        return graphs
