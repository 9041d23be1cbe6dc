"""A card that lies about its weights is refused on import and on load, with the reason (issue 16, item 6)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from gnnpt.models.card import CardError, read_card
from gnnpt.models.domain import write_domain_for_model
from gnnpt.models.finetuned import FinetunedModel, build_graph_model, load_finetuned
from gnnpt.models.store import RegistryError, import_model
from gnnpt.nn.hu2020 import HuEncoder
from gnnpt.predict import Predictor

TASKS = [f"t{i}" for i in range(12)]


def _saved(directory: Path, half: bool = False) -> Path:
    torch.manual_seed(0)
    model = FinetunedModel([build_graph_model(HuEncoder(num_layer=2, emb_dim=16), 12)], "classification", TASKS)
    model.save(directory, half=half)
    write_domain_for_model(directory, ["CCO", "c1ccccc1O"])
    return directory


def _edit(directory: Path, change: Callable[[dict], None]) -> Path:
    card = json.loads((directory / "card.json").read_text())
    change(card)
    (directory / "card.json").write_text(json.dumps(card))
    return directory


LIES = {
    "11 task names for 12 outputs": (lambda c: c.update(task_names=TASKS[:11]), "11 task_names for 12 outputs"),
    "13 task names for 12 outputs": (lambda c: c.update(task_names=[*TASKS, "x"]), "13 task_names for 12 outputs"),
    "classification made regression": (lambda c: c.update(task_type="regression"), "needs standardizer"),
    "another feature scheme": (lambda c: c.update(scheme="ogb"), "scheme 'ogb' does not fit architecture"),
    "float16 claimed for float32 weights": (lambda c: c.update(dtype="float16"), "says float16 weights"),
    "an unknown head": (lambda c: c.update(head="transformer"), "head"),
}


@pytest.mark.parametrize("lie", list(LIES))
def test_a_lying_card_is_refused_on_load_and_on_import(tmp_path, lie) -> None:
    change, message = LIES[lie]
    saved = _edit(_saved(tmp_path / "m"), change)
    with pytest.raises(CardError, match=message):
        load_finetuned(saved)
    with pytest.raises(RegistryError, match=message):
        import_model(saved, name="liar", root=tmp_path / "store")


def test_a_missing_or_swapped_domain_file_is_refused(tmp_path) -> None:
    saved = _saved(tmp_path / "m")
    assert Predictor.from_path(saved).domain is not None and read_card(saved)["domain"]["fingerprints"] == 2
    other = _saved(tmp_path / "other")
    write_domain_for_model(other, ["CCN", "CCCl", "c1ccncc1"])
    (saved / "domain.safetensors").write_bytes((other / "domain.safetensors").read_bytes())
    with pytest.raises(CardError, match="not the file its card records"):
        Predictor.from_path(saved)
    (saved / "domain.safetensors").unlink()
    with pytest.raises(CardError, match=r"domain\.safetensors is missing"):
        Predictor.from_path(saved)
    with pytest.raises(RegistryError, match="missing"):
        import_model(saved, name="nodomain", root=tmp_path / "store")


def test_honest_cards_load_half_precision_included(tmp_path) -> None:
    for half in (False, True):
        model = load_finetuned(_saved(tmp_path / f"m{half}", half=half))
        assert model.card["dtype"] == ("float16" if half else "float32") and model.output_names() == TASKS


def test_a_hand_built_regression_model_scores_in_target_units(tmp_path) -> None:
    model = FinetunedModel([build_graph_model(HuEncoder(num_layer=1, emb_dim=8), 1)], "regression", ["y"])
    loaded = load_finetuned(model.save(tmp_path / "r"))
    assert loaded.card["standardizer"] == {"mean": [0.0], "std": [1.0]} and loaded.scheme == "hu2020"
