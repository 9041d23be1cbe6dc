"""Batch screening: score large molecule files with a fine-tuned model, streaming, resumable, locally or on Ray."""

from gnnpt.screening.api import ENGINES, ScreenSummary, screen
from gnnpt.screening.checkpoint import progress_path
from gnnpt.screening.selection import Filter
from gnnpt.screening.sink import errors_path

__all__ = ["ENGINES", "Filter", "ScreenSummary", "errors_path", "progress_path", "screen"]
