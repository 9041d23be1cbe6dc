"""Parameter-efficient fine-tuning of an encoder's message-passing layers: LoRA on their linear maps, bottleneck
adapters on their outputs. An encoder names those layers and their widths with ``adaptable_layers()`` (the Hu et al.
encoders' convs, MiniMol's GINE layers).

Both keep every existing ``state_dict`` key of the encoder: ``LoRALinear`` adopts the wrapped layer's ``weight`` and
``bias`` under the same names (adding ``lora_a``/``lora_b`` beside them), and an adapter is a new ``adapter`` child
of each conv. A published checkpoint therefore loads into an adapted encoder with ``strict=False`` (only the new
keys missing), and ``merge_lora`` turns a LoRA-tuned encoder back into the published key layout.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LoRALinear(nn.Module):
    """``base(x) + (alpha / r) * dropout(x) @ A^T @ B^T`` (Hu et al. 2021): a trainable low-rank update of ``base``.

    ``A`` [r, in] is kaiming-uniform and ``B`` [out, r] zero, so at wrap time the output equals ``base``'s exactly.
    The base ``weight``/``bias`` Parameters are shared with ``base`` (not copied), under the same key names.
    """

    def __init__(self, base: nn.Linear, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        if rank < 1:
            raise ValueError("LoRA rank must be at least 1")
        self.in_features, self.out_features = base.in_features, base.out_features
        self.rank, self.scale = rank, alpha / rank
        self.weight, self.bias = base.weight, base.bias
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_a = nn.Parameter(torch.empty(rank, self.in_features, **factory))
        self.lora_b = nn.Parameter(torch.zeros(self.out_features, rank, **factory))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))  # nn.Linear's default init, as in the LoRA paper code
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias) + self.scale * (self.dropout(x) @ self.lora_a.T @ self.lora_b.T)

    def delta_weight(self) -> torch.Tensor:
        """The update ``scale * B @ A`` [out, in] that ``merge`` adds to the base weight."""
        return self.scale * (self.lora_b @ self.lora_a)

    def merge(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function (without dropout), with fresh detached weights."""
        factory = {"device": self.weight.device, "dtype": self.weight.dtype}
        merged = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None, **factory)
        with torch.no_grad():
            merged.weight.copy_(self.weight + self.delta_weight())
            if self.bias is not None:
                merged.bias.copy_(self.bias)
        return merged

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, scale={self.scale}"


class BottleneckAdapter(nn.Module):
    """Houlsby et al. (2019) residual adapter ``x + up(gelu(down(x)))``; ``up`` starts at zero (identity at first)."""

    def __init__(self, dim: int, bottleneck: int = 64):
        super().__init__()
        if bottleneck < 1:
            raise ValueError("adapter bottleneck must be at least 1")
        self.down = nn.Linear(dim, bottleneck)
        self.up = nn.Linear(bottleneck, dim)
        self.act = nn.GELU()  # not ReLU: no dead units, so every adapter weight keeps getting a gradient
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(x)))


def _layers(encoder: nn.Module) -> list[tuple[nn.Module, int]]:
    """(layer, output width) of each message-passing layer of ``encoder`` (its ``adaptable_layers()``)."""
    layers = getattr(encoder, "adaptable_layers", None)
    if layers is None:
        raise TypeError(f"{type(encoder).__name__} does not name its layers for LoRA or adapters; use a Hu et al. "
                        "(hu2020) or MiniMol encoder")  # fmt: skip
    return layers()


def _lora_targets(layer: nn.Module) -> list[tuple[nn.Module, str]]:
    """(parent, name) of every ``nn.Linear`` inside a layer: GIN's ``mlp`` Linears, GCN/GraphSAGE ``linear``, GAT
    ``weight_linear``; MiniMol's edge projection and MLP."""
    return [(parent, name) for parent in layer.modules() for name, child in parent.named_children()
            if isinstance(child, nn.Linear)]  # fmt: skip


def add_lora(encoder: nn.Module, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> nn.Module:
    """Wrap, in place, the linear maps of every layer of ``encoder`` in ``LoRALinear``; returns ``encoder``.

    Layers already wrapped are left as they are. ``requires_grad`` is not touched: freezing the base weights is the
    fine-tuning strategy's job (``gnnpt.finetune.strategies``).
    """
    for layer, _ in _layers(encoder):
        for parent, name in _lora_targets(layer):
            setattr(parent, name, LoRALinear(getattr(parent, name), rank, alpha, dropout))
    return encoder


def merge_lora(encoder: nn.Module) -> nn.Module:
    """Fold every ``LoRALinear`` inside ``encoder`` back into a plain ``nn.Linear``, in place (published key layout)."""
    for parent in list(encoder.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, LoRALinear):
                setattr(parent, name, child.merge())
    return encoder


def _apply_adapter(layer: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return layer.adapter(output)


def add_adapters(encoder: nn.Module, bottleneck: int = 64) -> nn.Module:
    """Give every layer of ``encoder`` a ``BottleneckAdapter`` on its output, in place (a Hu et al. conv's, before
    the batch norm; for GIN the MLP output).

    Each adapter is registered as the layer's ``adapter`` child (``gnns[i].adapter``) and applied by a forward hook
    on the layer, the same way for every layer type. Existing keys are unchanged. Returns ``encoder``.
    """
    for layer, width in _layers(encoder):
        if hasattr(layer, "adapter"):
            raise ValueError("encoder already has adapters")
        ref = next(layer.parameters())
        layer.adapter = BottleneckAdapter(width, bottleneck).to(device=ref.device, dtype=ref.dtype)
        layer.register_forward_hook(_apply_adapter)
    return encoder
