"""Atom attributions: occlusion is the exact score change, gradient x input credits the atoms the model uses."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

from gnnpt.featurization.pipeline import featurize
from gnnpt.featurization.schemes import HU_MASK_ATOM
from gnnpt.models.finetuned import FinetunedModel, build_graph_model
from gnnpt.nn.hu2020 import HuEncoder
from gnnpt.nn.ogb import OgbEncoder
from gnnpt.predict import Predictor, atom_attributions, draw_attributions

SALICYLIC = "O=C(O)c1ccccc1O"
NITROGEN_ROW = 6  # hu2020 atom type = atomic number - 1


def nitrogen_model(task_type: str = "regression", sign: float = 1.0) -> FinetunedModel:
    """A model whose output only nitrogen can move: every atom embedding but nitrogen's, every bias and every bond
    embedding is zero, and all other weights are non-negative. The output is then positively homogeneous in the
    atom embeddings (so gradient x input sums to it) and ``sign`` x positive for molecules with nitrogen."""
    torch.manual_seed(0)
    member = build_graph_model(HuEncoder(num_layer=2, emb_dim=16), 1)
    with torch.no_grad():
        for name, p in member.named_parameters():
            if "bias" in name or "embedding" in name:
                p.zero_()
            elif name.endswith("weight") and p.dim() == 2:
                p.abs_()
        member.encoder.x_embedding1.weight[NITROGEN_ROW] = torch.rand(16) * 0.1 + 0.05
        member.head.linear.weight.mul_(sign)
    return FinetunedModel([member], task_type, ["y"]).eval()


def test_occlusion_weights_are_the_score_changes(shipped: Predictor) -> None:
    model, task = shipped.model, shipped.task_names.index("SR-MMP")
    weights = atom_attributions(model, SALICYLIC, "SR-MMP", method="occlusion")
    store = featurize([SALICYLIC])
    full = model.predict_graphs(store.gather([0]))[0, task].item()
    assert len(weights) == 10
    for atom in (0, 9):  # by hand: the mask-atom token (type 119, chirality 0) in place of the atom
        graphs = store.gather([0])
        graphs.x[atom] = torch.tensor([HU_MASK_ATOM, 0])
        np.testing.assert_allclose(weights[atom], full - model.predict_graphs(graphs)[0, task].item(), atol=1e-6)
    assert np.abs(weights).max() > 1e-4


def test_gradient_x_input_sums_to_the_output_and_credits_only_nitrogen() -> None:
    model = nitrogen_model("regression")
    smiles = "CCNC(=O)c1ccccc1"  # nitrogen is atom 2
    weights = atom_attributions(model, smiles)
    value = Predictor(model, precision="fp32").predict(["CCNC(=O)c1ccccc1"])["y"].iloc[0]
    assert value > 0 and weights[2] > 0 and np.count_nonzero(weights) == 1
    np.testing.assert_allclose(weights.sum(), value, rtol=1e-5)  # Euler: a 1-homogeneous output is sum(grad * h0)
    assert not atom_attributions(model, "CCOC(=O)c1ccccc1").any()  # no nitrogen, nothing to credit


def test_gradient_x_input_sign_follows_the_effect_on_the_probability() -> None:
    up = atom_attributions(nitrogen_model("classification", sign=1.0), "c1ccncc1")
    down = atom_attributions(nitrogen_model("classification", sign=-1.0), "c1ccncc1")
    assert up[3] > 0 and down[3] < 0 and np.count_nonzero(up) == np.count_nonzero(down) == 1
    np.testing.assert_allclose(up[3], -down[3], rtol=1e-3)  # p(1 - p) z is odd in z


def test_attributions_are_averaged_over_members() -> None:
    one = nitrogen_model("regression")
    other = copy.deepcopy(one.members[0])
    with torch.no_grad():
        other.head.linear.weight.mul_(3.0)
    pair = FinetunedModel([one.members[0], other], "regression", ["y"]).eval()
    single = atom_attributions(one, "CCN")
    for method in ("gradient_x_input", "occlusion"):
        np.testing.assert_allclose(
            atom_attributions(pair, "CCN", method=method), 2 * atom_attributions(one, "CCN", method=method), rtol=1e-5
        )
    assert single[2] > 0


def test_explanation_draws_well_formed_svg(shipped: Predictor) -> None:
    explanation = shipped.explain(SALICYLIC, task="SR-MMP")
    assert explanation.task == "SR-MMP" and explanation.method == "gradient_x_input" and len(explanation.weights) == 10
    exact = Predictor(shipped.model, shipped.domain, precision="fp32")  # explanations are computed in fp32
    assert explanation.score == pytest.approx(exact.predict([SALICYLIC])["SR-MMP"].iloc[0], rel=1e-5)
    svg = explanation._repr_svg_()
    assert svg == explanation.svg and svg.startswith(("<?xml", "<svg")) and svg.rstrip().endswith("</svg>")
    assert ET.fromstring(svg).tag.endswith("svg")
    assert shipped.explain("CCO").task == "NR-AR"  # the first task by default
    plain = draw_attributions("CCO", np.array([0.5, -0.2, 0.0]), legend="y: 0.5")
    assert ET.fromstring(plain).tag.endswith("svg")


def test_bad_requests_say_what_to_do(shipped: Predictor) -> None:
    with pytest.raises(ValueError, match="choose one of"):
        shipped.explain("CCO", task="no such task")
    with pytest.raises(ValueError, match="cannot explain"):
        shipped.explain("C1CC")
    with pytest.raises(ValueError, match="unknown attribution method"):
        shipped.explain("CCO", method="saliency")
    with pytest.raises(ValueError, match="one weight per atom"):
        draw_attributions("CCO", np.zeros(2))


def test_ogb_models_get_gradients_but_no_occlusion() -> None:
    torch.manual_seed(0)
    model = FinetunedModel([build_graph_model(OgbEncoder(num_layer=2, emb_dim=16), 1)], "regression", ["y"],
                           scheme="ogb").eval()  # fmt: skip
    assert atom_attributions(model, SALICYLIC).shape == (10,)
    with pytest.raises(ValueError, match="method='gradient_x_input'"):
        atom_attributions(model, SALICYLIC, method="occlusion")
