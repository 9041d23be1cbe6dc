"""Atom attributions: which atoms push one task's score up or down, and a drawing of them.

Both methods attribute the score ``predict`` reports (probability for classification, value for regression),
averaged over ensemble members, and use the same sign: a positive weight means the atom raises the score.

- ``gradient_x_input``: gradient of the score with respect to each atom's input embedding ``h0`` (hu2020:
  ``x_embedding1(atom type) + x_embedding2(chirality)``; ogb: the atom encoder's output), dotted with ``h0``.
  A first-order estimate of the change if the atom's embedding were zeroed; one forward and backward pass.
- ``occlusion``: ``score(molecule) - score(molecule with atom i replaced by the mask-atom token)``, the token
  the masking pretraining objective uses for a hidden atom. Exact, one forward pass per atom (batched); needs
  the hu2020 scheme, which has that token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem.Draw import rdMolDraw2D
from torch import nn

from gnnpt.featurization.pipeline import featurize
from gnnpt.featurization.schemes import HU_MASK_ATOM
from gnnpt.models.finetuned import FinetunedModel
from gnnpt.nn.hu2020 import HuEncoder
from gnnpt.nn.ogb import OgbEncoder
from gnnpt.predict.scores import output_index
from gnnpt.store.packed import PackedGraphs

METHODS = ("gradient_x_input", "occlusion")


def _featurize_one(model: FinetunedModel, smiles: str) -> PackedGraphs:
    store = featurize([smiles], model.scheme).to(next(model.parameters()).device)
    if store.errors:
        e = store.errors[0]
        raise ValueError(f"cannot explain {smiles!r}: {e.reason}: {e.message}")
    return store


def _input_embeddings(encoder: nn.Module) -> list[nn.Module]:
    """The modules whose outputs sum to the atoms' input embedding ``h0``."""
    if isinstance(encoder, HuEncoder):
        return [encoder.x_embedding1, encoder.x_embedding2]
    if isinstance(encoder, OgbEncoder):
        return [encoder.atom_encoder]
    raise TypeError(f"gradient_x_input supports HuEncoder and OgbEncoder, not {type(encoder).__name__}")


def _gradient_x_input(model: FinetunedModel, store: PackedGraphs, k: int) -> np.ndarray:
    captured: list[torch.Tensor] = []

    def capture(_module: nn.Module, _inputs: object, out: torch.Tensor) -> torch.Tensor:
        out = out.detach().requires_grad_()  # a leaf, so frozen embedding weights still give a gradient
        captured.append(out)
        return out

    modules = [m for member in model.members for m in _input_embeddings(member.encoder)]
    hooks = [m.register_forward_hook(capture) for m in modules]
    try:
        with torch.enable_grad():
            score = model.member_scores(store.gather([0]))[:, 0, k].mean()
            grads = torch.autograd.grad(score, captured)
    finally:
        for h in hooks:
            h.remove()
    # h0 = sum of the captured outputs, and d score / d h0 equals the gradient of each of them
    return sum((g * out).sum(-1) for g, out in zip(grads, captured, strict=True)).detach().cpu().numpy()


@torch.no_grad()
def _occlusion(model: FinetunedModel, store: PackedGraphs, k: int, batch_size: int) -> np.ndarray:
    if model.scheme != "hu2020":
        raise ValueError(f"occlusion needs the hu2020 mask-atom token; this model uses {model.scheme!r}: "
                         "use method='gradient_x_input'")  # fmt: skip
    device = store.device
    n = int(store.nodes_per_graph()[0])
    full = model.member_scores(store.gather([0]))[:, 0, k].mean().item()
    weights = np.empty(n, np.float32)
    mask = torch.tensor([HU_MASK_ATOM, 0], device=device)
    for start in range(0, n, batch_size):
        atoms = torch.arange(start, min(n, start + batch_size), device=device)
        graphs = store.gather(torch.zeros(len(atoms), dtype=torch.long, device=device))  # one copy per atom
        graphs.x[graphs.ptr[:-1] + atoms] = mask
        weights[start : start + len(atoms)] = full - model.member_scores(graphs)[:, :, k].mean(0).cpu().numpy()
    return weights


def _attribute(model: FinetunedModel, store: PackedGraphs, k: int, method: str, batch_size: int) -> np.ndarray:
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {METHODS}")
    model.eval()
    if method == "occlusion":
        return _occlusion(model, store, k, batch_size)
    return _gradient_x_input(model, store, k)


def atom_attributions(
    model: FinetunedModel,
    smiles: str,
    task: str | int | None = None,
    method: str = "gradient_x_input",
    batch_size: int = 256,
) -> np.ndarray:
    """Per-atom weights [atoms] (RDKit atom order of ``smiles``) for ``task`` (None: the first output).

    ``batch_size``: masked copies scored at once by ``occlusion``.
    """
    return _attribute(model, _featurize_one(model, smiles), output_index(model, task), method, batch_size)


def _colour(w: float) -> tuple[float, float, float]:
    """White at 0, red for positive, blue for negative weights (``w`` in [-1, 1])."""
    a = min(abs(w), 1.0)
    return (1.0, 1.0 - a, 1.0 - a) if w > 0 else (1.0 - a, 1.0 - a, 1.0)


def draw_attributions(smiles: str, weights: np.ndarray, legend: str = "", size: tuple[int, int] = (400, 300)) -> str:
    """An SVG of the molecule with each atom highlighted red (raises the score) or blue (lowers it).

    Colour intensity is the weight over the largest absolute weight of the molecule.
    """
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit cannot parse {smiles!r}; pass the SMILES the weights were computed for")
    weights = np.asarray(weights, dtype=float)
    if len(weights) != mol.GetNumAtoms():
        raise ValueError(f"{len(weights)} weights for {mol.GetNumAtoms()} atoms; pass one weight per atom")
    scale = float(np.abs(weights).max()) if len(weights) else 0.0
    colours = {i: _colour(w / scale if scale > 0 else 0.0) for i, w in enumerate(weights.tolist())}
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    rdMolDraw2D.PrepareAndDrawMolecule(
        drawer, mol, legend=legend, highlightAtoms=list(colours), highlightAtomColors=colours
    )
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


@dataclass
class Explanation:
    """Atom attributions of one molecule for one task, with their drawing (shown inline in notebooks)."""

    smiles: str
    task: str
    method: str
    score: float
    weights: np.ndarray
    svg: str

    def _repr_svg_(self) -> str:
        return self.svg


def explain(
    model: FinetunedModel, smiles: str, task: str | int | None = None, method: str = "gradient_x_input"
) -> Explanation:
    """The attributions of ``smiles`` for ``task`` (None: the first output), its score and drawing."""
    k = output_index(model, task)
    store = _featurize_one(model, smiles)
    weights = _attribute(model, store, k, method, batch_size=256)
    with torch.no_grad():
        score = model.member_scores(store.gather([0]))[:, 0, k].mean().item()
    name = model.output_names()[k]
    svg = draw_attributions(smiles, weights, legend=f"{name}: {score:.3f} ({method})")
    return Explanation(smiles, name, method, score, weights, svg)
