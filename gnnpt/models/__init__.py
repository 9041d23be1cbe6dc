"""Saved models: the artifact (``model.safetensors`` + ``card.json`` + optional ``domain.safetensors``), its card
schema, the shipped models, the versioned model store, name resolution, loading, and the one scoring path.

    from gnnpt.models import load_model, score_molecules
    model = load_model("tox21")                     # a name, name@v2, a directory, or None for the default
    scored = score_molecules(model, ["CCO", "c1ccccc1O"])

Names load on first use, so command-line defaults (:mod:`gnnpt.models.defaults`) import without torch.
"""

from gnnpt.lazy import lazy_attributes

_EXPORTS = {
    "CARD_FILE": "card", "WEIGHTS_FILE": "card", "CardError": "card", "read_card": "card",
    "DEFAULT_ENCODER": "defaults", "DEFAULT_MODEL": "defaults",
    "TrainingDomain": "domain", "IN_DOMAIN_THRESHOLD": "domain",
    "load_encoder": "encoders", "save_encoder": "encoders",
    "FinetunedModel": "finetuned", "build_graph_model": "finetuned", "load_finetuned": "finetuned",
    "load_hu2020_checkpoint": "hu2020", "export_hu2020_state_dict": "hu2020",
    "packaged_models": "packaged", "packaged_encoders": "packaged",
    "ScoredMolecules": "scored",
    "score_molecules": "scoring", "load_model": "scoring",
    "ModelEntry": "store", "RegistryError": "store", "export_model": "store", "import_model": "store",
    "list_models": "store", "model_path": "store", "remove": "store", "resolve": "store", "resolve_encoder": "store",
    "show": "store", "store_dir": "store", "verify": "store",
}  # fmt: skip
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_attributes(__name__, _EXPORTS)
