"""The names of the shipped defaults (no imports, so command-line options can name them without loading torch)."""

DEFAULT_MODEL = "tox21-fast"  # what gnnpt.load(), gnnpt screen and the service score with when no model is named
DEFAULT_ENCODER = "gin-desc-v2"  # what gnnpt finetune and adaptation jobs start from when no encoder is named
