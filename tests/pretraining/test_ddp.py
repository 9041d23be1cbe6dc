"""Distributed pretraining: every rank gets the same number of batches, and a real 2-process CPU run ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gnnpt.pretraining.data import EpochShuffleSampler


@pytest.mark.parametrize(("n", "world"), [(511, 2), (10, 3), (1, 2), (512, 4)])
def test_every_rank_gets_the_same_number_of_positions_and_all_are_covered(monkeypatch, n: int, world: int) -> None:
    parts = []
    for rank in range(world):
        monkeypatch.setattr(EpochShuffleSampler, "_rank", lambda self, r=rank: (r, world))
        sampler = EpochShuffleSampler(n, seed=3)
        sampler.set_epoch(1)
        parts.append(list(sampler))
        assert len(parts[-1]) == len(sampler) == -(-n // world)
    assert set().union(*map(set, parts)) == set(range(n))
    assert sum(map(len, parts)) - n < world  # padding repeats fewer positions than there are ranks


def test_two_process_ddp_on_cpu_runs_and_ends(tmp_path, moleculenet_dir) -> None:
    """511 molecules, batch 256, 2 ranks: one rank used to get 1 batch and the other 0, and the run hung."""
    smiles = pd.read_csv(moleculenet_dir / "bbbp.csv.gz")["smiles"].tolist()[:511]
    corpus = tmp_path / "corpus.smi"
    corpus.write_text("\n".join(smiles) + "\n")
    out = tmp_path / "run"
    overrides = [f"corpus={corpus}", f"output_dir={out}", "encoder.num_layer=2", "encoder.emb_dim=16",
                 "batch_size=256", "epochs=2", "accelerator=cpu", "devices=2", "strategy=ddp", "progress=false",
                 "featurize_workers=1", "log_every_n_steps=1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    script = Path(sys.executable).parent / "gnnpt"  # Lightning starts rank 1 by running this command line again
    if not script.exists():
        pytest.skip(f"the gnnpt console script is not installed beside {sys.executable}")
    cmd = [str(script), "pretrain", *overrides]
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    card = json.loads((out / "encoder" / "card.json").read_text())
    valid = card["corpus"]["molecules"] - card["corpus"]["invalid"]
    assert card["steps"] == 2 * (-(-valid // 2) // 256)  # both epochs, ceil(valid / 2 ranks) // batch steps each
