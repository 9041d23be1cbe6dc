"""Models for the predictor tests: the shipped Tox21 model and tiny untrained ones built in memory."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch

from gnnpt.models import load_model
from gnnpt.models.finetuned import FinetunedModel, build_graph_model
from gnnpt.nn.hu2020 import HuEncoder
from gnnpt.predict import Predictor


@pytest.fixture(scope="session")
def shipped() -> Predictor:
    """The default Tox21 model (12 classification tasks, one member)."""
    return Predictor(load_model())


def _tiny(seed: int = 0, members: int = 1, identical: bool = False, task_type: str = "classification"):
    torch.manual_seed(seed)
    first = build_graph_model(HuEncoder(num_layer=2, emb_dim=16), 1)
    rest = [copy.deepcopy(first) if identical else build_graph_model(HuEncoder(num_layer=2, emb_dim=16), 1)
            for _ in range(members - 1)]  # fmt: skip
    return FinetunedModel([first, *rest], task_type, ["y"]).eval()


@pytest.fixture
def tiny() -> Callable[..., FinetunedModel]:
    """Build a tiny untrained one-task model: ``tiny(seed=0, members=1, identical=False, task_type=...)``."""
    return _tiny
