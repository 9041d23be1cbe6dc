"""Labeled batches straight from the packed store: graph ids in the DataLoader, graphs + labels gathered on device."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from gnnpt.datasets.splits import Split
from gnnpt.pretraining.data import PackedDataModule
from gnnpt.store.packed import GraphBatch, PackedGraphs


class FinetuneDataModule(PackedDataModule):
    """Train batches shuffled per (seed, epoch); ``val_dataloader`` serves the valid and the test part, in order.

    ``targets`` is float32 [graphs, tasks] aligned with ``store`` (NaN = missing label). Rows of the split
    whose molecule could not be featurized are left out of every part (the store's ``errors`` list them).
    """

    def __init__(
        self,
        store: PackedGraphs,
        targets: np.ndarray,
        split: Split,
        batch_size: int = 32,
        seed: int = 0,
        eval_batch_size: int = 1024,
    ):
        super().__init__(store, batch_size, seed, drop_last=False)
        if len(targets) != len(store):
            raise ValueError(f"{len(targets)} target rows for {len(store)} graphs")
        valid = store.valid
        self.parts = {name: np.asarray(rows)[valid[rows]] for name, rows in
                      (("train", split.train), ("valid", split.valid), ("test", split.test))}  # fmt: skip
        if len(self.parts["train"]) == 0:
            raise ValueError("the training part holds no valid molecule")
        self.ids = torch.from_numpy(self.parts["train"].astype(np.int64))
        self.targets = torch.tensor(np.asarray(targets, dtype=np.float32))
        self.eval_batch_size = eval_batch_size
        self._device_targets: torch.Tensor | None = None

    def _ordered(self, part: str) -> DataLoader:
        ids = torch.from_numpy(self.parts[part].astype(np.int64))
        return DataLoader(ids, batch_size=self.eval_batch_size, shuffle=False, collate_fn=torch.stack)

    def val_dataloader(self) -> list[DataLoader]:
        return [self._ordered("valid"), self._ordered("test")]

    def transfer_batch_to_device(
        self, batch: torch.Tensor, device: torch.device, dataloader_idx: int
    ) -> tuple[GraphBatch, torch.Tensor]:
        graphs = super().transfer_batch_to_device(batch, device, dataloader_idx)
        if self._device_targets is None or self._device_targets.device != device:
            self._device_targets = self.targets.to(device)
        return graphs, self._device_targets[batch.to(device)]
