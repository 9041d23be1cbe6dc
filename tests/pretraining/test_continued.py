"""The domain-adaptive candidate (what adaptation jobs and the learning curves add to auto): the job's encoder
continued on a set's molecules, cached per set, and accepted by auto as one more frozen-encoder candidate."""

from __future__ import annotations

from gnnpt.datasets import load
from gnnpt.finetune.auto import AutoConfig
from gnnpt.models.card import read_card
from gnnpt.models.store import resolve_encoder
from gnnpt.pretraining.continued import ADAPTED, adapted_encoders


def test_adapted_encoders_are_continued_once_per_set_and_fit_autos_candidates(moleculenet_dir) -> None:
    smiles = load("bbbp").smiles[:40]
    encoders = adapted_encoders(smiles, seed=0, minutes=0.02)
    (path,) = encoders.values()
    card = read_card(path)
    assert list(encoders) == [ADAPTED] and card["init"] == "gin-desc-v2" and card["corpus"]["molecules"] == 40
    assert "descriptors" in card["objectives"] and card["steps"] > 0
    assert resolve_encoder(path).emb_dim == resolve_encoder("gin-desc-v2").emb_dim
    written = (read_card(path)["created"], card["wall_time_s"])
    assert adapted_encoders(smiles, seed=0, minutes=0.02) == encoders  # the same set: not continued again
    assert (read_card(path)["created"], read_card(path)["wall_time_s"]) == written
    assert adapted_encoders(smiles, seed=1, minutes=0.02) != encoders
    AutoConfig(candidates=["forest", ADAPTED], encoders=encoders)
