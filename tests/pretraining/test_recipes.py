"""Every shipped recipe is a valid config whose objectives build."""

from __future__ import annotations

from pathlib import Path

import pytest

from gnnpt.pretraining.config import load_config
from gnnpt.pretraining.run import build_encoder, build_objective

RECIPES = sorted((Path(__file__).resolve().parents[2] / "pretraining").glob("*.yaml"))


def test_the_recipes_exist() -> None:
    assert {p.stem for p in RECIPES} == {"attr_masking", "contrastive", "masking_contrastive", "domain_adaptation",
                                         "graphmae", "descriptors", "minimol_distill"}  # fmt: skip


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_loads_and_builds(path: Path) -> None:
    cfg = load_config(path, ["encoder.num_layer=1", "encoder.emb_dim=8"])
    cfg.init = None  # the domain-adaptation recipe names a run directory that a test machine lacks
    objective = build_objective(cfg, build_encoder(cfg))
    assert set(objective.objectives) == set(cfg.objectives)
    assert cfg.batch_size > 0 and cfg.epochs > 0
