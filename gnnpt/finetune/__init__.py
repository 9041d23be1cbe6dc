"""Fine-tuning pretrained encoders on labeled molecules: tasks, metrics, strategies, training, baselines.

from gnnpt.finetune import FinetuneConfig, load_labeled, run_finetune
path, result = run_finetune(load_labeled("tox21"), FinetuneConfig(encoder="runs/gin/encoder"), "models/tox21")

The names load on first use, so importing one module does not pull in the training stack (Lightning).
"""

from gnnpt.lazy import lazy_attributes

_EXPORTS = {
    "LabeledData": "run", "load_labeled": "run", "make_split": "run", "run_finetune": "run",
    "Strategy": "strategies", "count_trainable": "strategies",
    "FinetuneConfig": "train", "FinetuneResult": "train", "finetune": "train",
}  # fmt: skip
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_attributes(__name__, _EXPORTS)
