"""Fine-tuning pretrained encoders on labeled molecules: tasks, metrics, strategies, training, baselines.

from gnnpt.finetune import FinetuneConfig, load_labeled, run_finetune
path, result = run_finetune(load_labeled("tox21"), FinetuneConfig(encoder="runs/gin/encoder"), "models/tox21")
"""

from gnnpt.finetune.model import FinetunedModel, load_model
from gnnpt.finetune.run import LabeledData, load_labeled, make_split, run_finetune
from gnnpt.finetune.strategies import Strategy, count_trainable
from gnnpt.finetune.train import FinetuneConfig, FinetuneResult, finetune

__all__ = [
    "FinetuneConfig",
    "FinetuneResult",
    "FinetunedModel",
    "LabeledData",
    "Strategy",
    "count_trainable",
    "finetune",
    "load_labeled",
    "load_model",
    "make_split",
    "run_finetune",
]
