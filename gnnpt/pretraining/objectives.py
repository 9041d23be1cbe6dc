"""Self-supervised objectives as modules around a shared encoder: attribute masking, GraphCL, GraphMAE,
descriptor prediction, and weighted sums of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gnnpt.featurization.schemes import HU_MASK_ATOM
from gnnpt.nn.conv import GINConv
from gnnpt.nn.pooling import make_pooling
from gnnpt.pretraining.augment import AUGMENTATIONS
from gnnpt.pretraining.losses import nt_xent
from gnnpt.pretraining.masking import mask_atoms
from gnnpt.store.packed import GraphBatch

NUM_BOND_CLASSES = 4  # single, double, triple, aromatic


class AttributeMasking(nn.Module):
    """Hu et al.'s attribute masking: linear heads predict masked atom types (and bond types)."""

    def __init__(self, encoder: nn.Module, mask_rate: float = 0.15, mask_edges: bool = False):
        super().__init__()
        self.encoder, self.mask_rate, self.mask_edges = encoder, mask_rate, mask_edges
        self.atom_head = nn.Linear(encoder.out_dim, HU_MASK_ATOM)
        self.bond_head = nn.Linear(encoder.out_dim, NUM_BOND_CLASSES) if mask_edges else None

    def forward(self, gb: GraphBatch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """``loss`` plus ``atom_acc`` (and ``bond_loss`` / ``bond_acc`` when bonds are masked)."""
        m = mask_atoms(gb, self.mask_rate, self.mask_edges, generator)
        h = self.encoder(m.batch.x, m.batch.edge_index, m.batch.edge_attr)
        logits = self.atom_head(h.index_select(0, m.atom_index))
        loss = F.cross_entropy(logits, m.atom_target)
        out = {"atom_loss": loss.detach(), "atom_acc": (logits.argmax(-1) == m.atom_target).float().mean()}
        if self.bond_head is not None and m.bond_target.numel():
            bond_logits = self.bond_head(h[m.bond_index[0]] + h[m.bond_index[1]])
            bond_loss = F.cross_entropy(bond_logits, m.bond_target)
            loss = loss + bond_loss
            out["bond_loss"] = bond_loss.detach()
            out["bond_acc"] = (bond_logits.argmax(-1) == m.bond_target).float().mean()
        out["loss"] = loss
        return out


class GraphContrastive(nn.Module):
    """GraphCL: two augmented views per graph, pooled, projected, NT-Xent with in-batch negatives."""

    def __init__(
        self,
        encoder: nn.Module,
        augmentations: Sequence[str] = ("drop_nodes", "subgraph"),
        ratio: float = 0.2,
        temperature: float = 0.1,
        pooling: str = "mean",
        proj_dim: int | None = None,
    ):
        super().__init__()
        unknown = [a for a in augmentations if a not in AUGMENTATIONS]
        if len(augmentations) != 2 or unknown:
            raise ValueError(f"need two augmentations from {sorted(AUGMENTATIONS)}, got {list(augmentations)}")
        self.encoder, self.augmentations = encoder, tuple(augmentations)
        self.ratio, self.temperature = ratio, temperature
        d = encoder.out_dim
        self.pool = make_pooling(pooling, d)
        self.projection = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, proj_dim or d))

    def embed(self, gb: GraphBatch) -> torch.Tensor:
        return self.projection(self.pool(self.encoder(gb.x, gb.edge_index, gb.edge_attr), gb.batch, gb.num_graphs))

    def forward(self, gb: GraphBatch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        views = [AUGMENTATIONS[name](gb, self.ratio, generator) for name in self.augmentations]
        loss = nt_xent(self.embed(views[0]), self.embed(views[1]), self.temperature)
        return {"loss": loss, "contrastive_loss": loss.detach()}


def scaled_cosine_error(pred: torch.Tensor, target: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """GraphMAE's SCE loss: ``mean((1 - cos(pred, target)) ** alpha)``."""
    cos = (F.normalize(pred, dim=-1) * F.normalize(target, dim=-1)).sum(-1)
    return (1.0 - cos).pow(alpha).mean()


class GraphMAE(nn.Module):
    """GraphMAE (Hou et al. 2022), as in the authors' chemistry code: mask atoms (Hu et al.'s ``MaskAtom``,
    25%), encode, project (linear + PReLU), re-mask the masked atoms' representations to zero, decode every
    atom's type with one GIN layer, and score the masked atoms with the scaled cosine error against the one-hot
    atom type. The decoder sees the masked atoms' neighbourhoods only through message passing."""

    def __init__(self, encoder: nn.Module, mask_rate: float = 0.25, alpha: float = 1.0):
        super().__init__()
        self.encoder, self.mask_rate, self.alpha = encoder, mask_rate, alpha
        d = encoder.out_dim
        self.enc_to_dec = nn.Linear(d, d, bias=False)
        self.activation = nn.PReLU()
        self.decoder = GINConv(d, out_dim=HU_MASK_ATOM)

    def forward(self, gb: GraphBatch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        m = mask_atoms(gb, self.mask_rate, False, generator)
        b = m.batch
        z = self.activation(self.enc_to_dec(self.encoder(b.x, b.edge_index, b.edge_attr)))
        z = z.index_fill(0, m.atom_index, 0.0)
        pred = self.decoder(z, b.edge_index, b.edge_attr).index_select(0, m.atom_index)
        loss = scaled_cosine_error(pred, F.one_hot(m.atom_target, HU_MASK_ATOM).to(pred.dtype), self.alpha)
        acc = (pred.argmax(-1) == m.atom_target).float().mean()
        return {"loss": loss, "sce_loss": loss.detach(), "atom_acc": acc}


class DescriptorPrediction(nn.Module):
    """Predict each molecule's standardized RDKit descriptors (``GraphBatch.y``) from its pooled embedding.

    Mean-squared error over the known values (NaN targets are skipped); ``descriptor_r2`` is 1 - MSE, the
    variance explained, since the targets are z-scored over the corpus."""

    def __init__(self, encoder: nn.Module, num_descriptors: int, pooling: str = "mean"):
        super().__init__()
        self.encoder, self.num_descriptors = encoder, num_descriptors
        d = encoder.out_dim
        self.pool = make_pooling(pooling, d)
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, num_descriptors))

    def forward(self, gb: GraphBatch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        if gb.y is None or gb.y.shape[-1] != self.num_descriptors:
            got = None if gb.y is None else tuple(gb.y.shape)
            raise ValueError(f"the descriptor objective needs {self.num_descriptors} descriptors per graph in "
                             f"batch.y, got {got}; gnnpt.pretraining.pretrain computes them")  # fmt: skip
        pred = self.head(self.pool(self.encoder(gb.x, gb.edge_index, gb.edge_attr), gb.batch, gb.num_graphs))
        known = torch.isfinite(gb.y)
        loss = F.mse_loss(pred[known].float(), gb.y[known])
        return {"loss": loss, "descriptor_loss": loss.detach(), "descriptor_r2": 1.0 - loss.detach()}


class Combined(nn.Module):
    """A weighted sum of objectives that share one encoder (e.g. masking + contrastive)."""

    def __init__(self, objectives: Mapping[str, nn.Module], weights: Mapping[str, float]):
        super().__init__()
        if set(objectives) != set(weights):
            raise ValueError(f"weights {sorted(weights)} must name exactly the objectives {sorted(objectives)}")
        encoders = {id(obj.encoder) for obj in objectives.values()}
        if len(encoders) != 1:
            raise ValueError("combined objectives must share one encoder")
        self.objectives = nn.ModuleDict(objectives)
        self.weights = dict(weights)
        self.encoder = next(iter(objectives.values())).encoder

    def forward(self, gb: GraphBatch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        total = None
        for name, objective in self.objectives.items():
            part = objective(gb, generator)
            term = self.weights[name] * part.pop("loss")
            total = term if total is None else total + term
            out.update({f"{name}/{k}": v for k, v in part.items()})
        out["loss"] = total
        return out
