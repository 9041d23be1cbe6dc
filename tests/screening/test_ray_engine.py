"""The Ray engine: the local engine's output, with the input streamed through a bounded window of chunks."""

from __future__ import annotations

import os
import sys

import pandas as pd
import pytest
import torch

import gnnpt
from gnnpt.screening import screen
from gnnpt.screening.ray_engine import WINDOW, ChunkScorer, actor_env, import_ray, ray_scored_chunks
from gnnpt.screening.scoring import score_chunk

VALID = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "O=C(O)c1ccccc1O", "CCCCCCCCCC", "c1ccncc1",
         "ClCCl", "CC(C)O", "NCCO", "OC(=O)CCC(=O)O", "c1ccc2ccccc2c1"]  # fmt: skip


@pytest.fixture(scope="module")
def ray():
    """A local Ray instance of 2 CPUs for this module's tests (started once: it takes seconds)."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False)  # its own, even beside a running cluster
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def model():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the actors' setting: the same float rounding here
    predictor = gnnpt.load()
    predictor.precision = "fp32"  # the same kernels on every CPU
    yield predictor
    torch.set_num_threads(before)


def test_without_ray_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'gnnpt\[ray\]'"):
        import_ray()


def test_screen_on_ray_writes_what_the_local_engine_writes(tmp_path, ray, model) -> None:
    smiles = ["bad(", *VALID[:4], "", *VALID[4:9], "C1CC", *VALID[9:]]
    pd.DataFrame({"smiles": smiles, "name": [f"mol{i}" for i in range(len(smiles))]}).to_csv(
        tmp_path / "in.csv", index=False
    )
    run = {"chunk_size": 2, "progress": False, "precision": "fp32"}
    local = screen(tmp_path / "in.csv", model, tmp_path / "local.csv", **run)
    on_ray = screen(tmp_path / "in.csv", model, tmp_path / "ray.csv", engine="ray", **run)
    assert (on_ray.engine, on_ray.rows, on_ray.invalid) == ("ray", len(smiles), 3)
    assert (on_ray.scored, on_ray.written) == (local.scored, local.written)
    ours, theirs = pd.read_csv(tmp_path / "ray.csv"), pd.read_csv(tmp_path / "local.csv")
    # the same chunks and batches: the same rows, texts and errors; scores up to float32 rounding (the local model
    # may run on more threads, which can change the last bit)
    tasks = model.model.output_names()
    pd.testing.assert_frame_equal(ours.drop(columns=tasks), theirs.drop(columns=tasks))
    pd.testing.assert_frame_equal(ours[tasks], theirs[tasks], check_exact=False, rtol=0, atol=1e-6)
    assert ours["error"].notna().tolist() == [s in ("bad(", "", "C1CC") for s in smiles]


def test_the_driver_reads_only_a_window_of_chunks_ahead(ray, model) -> None:
    chunks = [pd.DataFrame({"row": [i], "smiles": [smiles]}) for i, smiles in enumerate(VALID)]
    read = 0

    def reading():
        nonlocal read
        for chunk in chunks:
            read += 1
            yield chunk

    ahead = []
    scored = []
    # more actors than the cluster's 2 CPUs: they share them, rather than wait for CPUs that never come
    for frame in ray_scored_chunks(reading(), model, batch_size=1024, workers=3):
        ahead.append(read - len(scored))
        scored.append(frame)
    assert max(ahead) == 3 * WINDOW + 1  # the chunks in flight, and the one read that waits for the oldest to return
    expected = pd.concat([score_chunk(model, chunk, 1024) for chunk in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(pd.concat(scored, ignore_index=True), expected)


def test_an_actor_runs_the_local_engine_thread_settings(ray, model) -> None:
    actor = ray.remote(ChunkScorer).options(num_cpus=1).remote(model, 1024, 1, actor_env())
    try:
        settings = ray.get(actor.settings.remote())
    finally:
        ray.kill(actor)
    assert settings == {"torch_threads": 1, "OMP_NUM_THREADS": "1", **actor_env()}


class Exits:
    """An input whose unpickling ends the process that receives it, as a molecule that crashes RDKit would."""

    def __reduce__(self):
        return (os._exit, (3,))


def test_an_actor_that_dies_on_a_chunk_costs_one_row(ray, model) -> None:
    """The actor that receives the poisoned chunk dies; the driver scores that chunk with parsing contained (the
    poisoned row becomes its error) and a fresh actor takes the dead one's place for the chunks after it."""
    chunks = [pd.DataFrame({"row": range(3 * i, 3 * i + 3), "smiles": VALID[3 * i : 3 * i + 3]}) for i in range(4)]
    poisoned = chunks[1].astype({"smiles": object})
    poisoned.at[1, "smiles"] = Exits()
    scored = list(ray_scored_chunks(iter([chunks[0], poisoned, *chunks[2:]]), model, batch_size=1024, workers=2))
    expected = [score_chunk(model, chunk, 1024) for chunk in chunks]
    assert [len(frame) for frame in scored] == [3, 3, 3, 3]
    assert scored[1]["error"].iloc[1] == "parse crashed: the process parsing it ended unexpectedly (exit code 3)"
    for got, want in zip(scored, expected, strict=True):
        keep = got["error"].isna()
        pd.testing.assert_frame_equal(got[keep].drop(columns="smiles"), want[keep].drop(columns="smiles"))
