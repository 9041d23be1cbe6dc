"""Fine-tuning strategies: one option (``"full"``, ``"freeze:2"``, ``"lora:8"``, ...) picks what trains, at which lr.

``apply_strategy`` sets ``requires_grad`` on a ``GraphModel`` (inserting LoRA or adapters into its encoder where the
strategy needs them) and returns the optimizer parameter groups, holding only trainable parameters. Frozen modules
must also stop updating batch-norm statistics: the training loop calls ``set_train_mode`` instead of ``model.train()``.
The strategies that act by depth read the encoder's ``depth_groups()`` (input embeddings, then each layer's modules):
a Hu et al. encoder's or MiniMol's (:mod:`gnnpt.nn.minimol`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from gnnpt.models.finetuned import FinetunedModel
from gnnpt.nn.adapters import BottleneckAdapter, LoRALinear, add_adapters, add_lora, merge_lora
from gnnpt.nn.heads import GraphModel

STRATEGIES = ("full", "linear_probe", "freeze", "llrd", "lora", "adapter")
FORMS = "full, linear_probe, freeze:K (K >= 0), llrd[:D] (0 < D <= 1), lora[:R] (R >= 1), adapter[:B] (B >= 1)"
_VALUE_FIELDS = {"freeze": ("freeze_layers", int), "llrd": ("lr_decay", float), "lora": ("lora_rank", int),
                 "adapter": ("adapter_dim", int)}  # fmt: skip


@dataclass
class Strategy:
    """How an encoder is fine-tuned.

    - ``full``: every parameter trains at one lr.
    - ``linear_probe``: the encoder is frozen; pooling and head train.
    - ``freeze`` (``freeze_layers`` = K): the input embeddings and message-passing layers 0..K-1 (with their batch
      norms; MiniMol's with their virtual nodes) are frozen; the rest trains.
    - ``llrd`` (``lr_decay`` = D): everything trains, with layer-wise lr decay: head and pooling ``lr``, encoder
      layer i of L ``lr * D**(L - i)``, input embeddings ``lr * D**(L + 1)``.
    - ``lora`` (``lora_rank``, ``lora_alpha``): the base encoder is frozen; LoRA factors on every layer's linear maps,
      the encoder's batch or layer norms (cheap, and they must follow the shift of the fine-tuning data), pooling and
      head train.
    - ``adapter`` (``adapter_dim``): the base encoder is frozen; a bottleneck adapter per layer, the encoder's norms,
      pooling and head train.
    """

    name: str = "full"
    freeze_layers: int = 0
    lr_decay: float = 0.8
    lora_rank: int = 8
    lora_alpha: float = 16.0
    adapter_dim: int = 64

    def __post_init__(self) -> None:
        if self.name not in STRATEGIES:
            raise ValueError(f"unknown fine-tuning strategy {self.name!r}; choose one of {STRATEGIES}")
        if self.freeze_layers < 0:
            raise ValueError("freeze_layers must be >= 0")
        if not 0 < self.lr_decay <= 1:
            raise ValueError("lr_decay must be in (0, 1]")
        if self.lora_rank < 1 or self.adapter_dim < 1:
            raise ValueError("lora_rank and adapter_dim must be >= 1")

    @classmethod
    def parse(cls, text: str) -> Strategy:
        """A strategy from its option text: ``full``, ``linear_probe``, ``freeze:K``, ``llrd[:D]``, ``lora[:R]``,
        ``adapter[:B]`` (a value left out takes the default)."""
        name, sep, value = text.strip().partition(":")
        valid = name in STRATEGIES and (name in _VALUE_FIELDS if sep else name != "freeze")
        if not valid:
            raise ValueError(f"invalid fine-tuning strategy {text!r}; valid forms: {FORMS}")
        if not sep:
            return cls(name)
        field, kind = _VALUE_FIELDS[name]
        try:
            return cls(name, **{field: kind(value)})
        except ValueError as err:
            raise ValueError(f"invalid fine-tuning strategy {text!r} ({err}); valid forms: {FORMS}") from err


def _depth_groups(model: GraphModel, strategy: Strategy) -> tuple[list[nn.Module], list[list[nn.Module]]]:
    groups = getattr(model.encoder, "depth_groups", None)
    if groups is None:
        raise TypeError(f"strategy {strategy.name!r} needs an encoder with layers by depth (Hu et al. or MiniMol), "
                        f"got {type(model.encoder).__name__}")  # fmt: skip
    return groups()


def _group(name: str, modules: list[nn.Module], lr: float) -> dict[str, Any]:
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    return {"name": name, "params": params, "lr": lr}


def _llrd_groups(model: GraphModel, depth: tuple[list[nn.Module], list[list[nn.Module]]], decay: float,
                 lr: float) -> list[dict[str, Any]]:  # fmt: skip
    inputs, layers = depth
    head = [m for name, m in model.named_children() if name != "encoder"]
    n = len(layers)
    groups = [_group(f"layer{i}", modules, lr * decay ** (n - i)) for i, modules in enumerate(layers)]
    return [_group("head", head, lr), *reversed(groups), _group("embeddings", inputs, lr * decay ** (n + 1))]


def _norms(encoder: nn.Module) -> list[nn.Module]:
    """The encoder's batch and layer norms (Hu et al.'s batch norms, MiniMol's layer norms)."""
    return [m for m in encoder.modules() if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm))]


def apply_strategy(model: GraphModel, strategy: Strategy, lr: float) -> list[dict[str, Any]]:
    """Prepare ``model`` for fine-tuning with ``strategy`` and return its optimizer parameter groups.

    Sets ``requires_grad`` on every parameter (and for ``lora``/``adapter`` first inserts those modules into
    ``model.encoder``, in place). Each group is ``{"name", "params", "lr"}`` and holds only trainable parameters;
    empty groups are left out. Existing ``state_dict`` keys are kept (see ``gnnpt.nn.adapters``).
    """
    name, encoder = strategy.name, model.encoder
    depth = _depth_groups(model, strategy) if name in ("freeze", "llrd", "lora", "adapter") else ([], [])
    if name == "freeze" and strategy.freeze_layers > len(depth[1]):
        raise ValueError(f"cannot freeze {strategy.freeze_layers} of the encoder's {len(depth[1])} layers")
    if name == "lora":
        add_lora(encoder, strategy.lora_rank, strategy.lora_alpha)
    elif name == "adapter":
        add_adapters(encoder, strategy.adapter_dim)
    model.requires_grad_(True)
    if name == "linear_probe":
        encoder.requires_grad_(False)
    elif name == "freeze":
        for module in [*depth[0], *(m for layer in depth[1][: strategy.freeze_layers] for m in layer)]:
            module.requires_grad_(False)
    elif name in ("lora", "adapter"):
        encoder.requires_grad_(False)
        for norm in _norms(encoder):
            norm.requires_grad_(True)
        for module in encoder.modules():
            if isinstance(module, LoRALinear):
                module.lora_a.requires_grad_(True)
                module.lora_b.requires_grad_(True)
            elif isinstance(module, BottleneckAdapter):
                module.requires_grad_(True)
    groups = _llrd_groups(model, depth, strategy.lr_decay, lr) if name == "llrd" else [_group("model", [model], lr)]
    return [g for g in groups if g["params"]]


def _eval_frozen(module: nn.Module) -> None:
    for child in module.children():
        params = list(child.parameters())
        if params and not any(p.requires_grad for p in params):
            child.eval()
        else:
            _eval_frozen(child)


def set_train_mode(model: nn.Module) -> nn.Module:
    """``model.train()``, then every fully frozen submodule back to ``eval()``; returns ``model``.

    A frozen module then computes as at inference: frozen batch norms normalize with (and no longer update) their
    running statistics, and a frozen encoder (``linear_probe``) applies no dropout. Call it wherever the loop would
    call ``model.train()``: at each epoch start (with Lightning, in ``on_train_epoch_start``; Lightning restores each
    module's own mode after validation).
    """
    model.train()
    _eval_frozen(model)
    return model


def count_trainable(model: nn.Module) -> int:
    """Number of scalar parameters with ``requires_grad``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def prepare_for_save(model: FinetunedModel) -> FinetunedModel:
    """Fold LoRA updates into plain linear layers, so a saved model needs no LoRA structure to load."""
    if model.strategy.get("name") == "lora":
        for member in model.members:
            merge_lora(member.encoder)
    return model
