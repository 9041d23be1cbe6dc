"""Resumable screening: the sidecar ``OUT.progress.json`` records what a run has committed, chunk by chunk.

After each chunk the outputs are written and synced first, then the sidecar is replaced atomically; the sidecar
is the commit point. A run killed at any moment leaves at most some uncommitted bytes or files behind, which a
``resume`` cuts away before it skips the committed rows and goes on. The sidecar names the run (input path, size
and modification time, model fingerprint, selection settings), so a resume against anything else is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gnnpt.models.scoring import ScoringModel

VERSION = 1


def progress_path(output: Path) -> Path:
    """The sidecar of ``output``: ``OUT.progress.json``."""
    return Path(f"{output}.progress.json")


def model_fingerprint(model: ScoringModel) -> str:
    """SHA-256 of the model's weights, trees, outputs, feature scheme and ensemble weights / calibration: what makes
    its scores what they are (not its card's free-form record)."""
    fields, tensors, texts = model.state()
    what = [model.task_type, model.output_names(), model.scheme, fields.get("weights"), fields.get("platt")]
    digest = hashlib.sha256(json.dumps(what).encode())
    for name, tensor in sorted(tensors.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for name, text in sorted(texts.items()):
        digest.update(name.encode())
        digest.update(text.encode())
    return digest.hexdigest()


def run_identity(input: Path, model: ScoringModel, settings: dict[str, Any]) -> dict[str, Any]:
    """What a resumed run must share with the interrupted one: the input file, the model and ``settings``."""
    stat = input.stat()
    return {
        "input": {"path": str(input.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns},
        "model": model_fingerprint(model),
        "settings": settings,
    }


@dataclass
class Progress:
    """The committed state of a run; ``output_committed`` is bytes (CSV) or part files (Parquet)."""

    run: dict[str, Any]
    rows_done: int = 0
    output_committed: int | None = None
    errors_committed: int | None = None
    topk_file: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"scored": 0, "invalid": 0, "written": 0})

    def save(self, path: Path) -> None:
        """Replace ``path`` atomically (temporary file, fsync, rename): it always holds a whole, committed state."""
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"version": VERSION, **asdict(self)}, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


def _differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    out = []
    if recorded.get("input") != current["input"]:
        was, now = recorded.get("input", {}), current["input"]
        out.append(
            f"the input differs (recorded {was.get('path')}, {was.get('size')} bytes, mtime_ns {was.get('mtime_ns')}; "
            f"now {now['path']}, {now['size']} bytes, mtime_ns {now['mtime_ns']})"
        )
    if recorded.get("model") != current["model"]:
        out.append("the model differs (its weights, outputs or feature scheme)")
    if recorded.get("settings") != current["settings"]:
        out.append(f"the settings differ (recorded {recorded.get('settings')}; now {current['settings']})")
    return out


def load_for_resume(path: Path, run: dict[str, Any]) -> Progress | None:
    """The committed state in ``path`` if it belongs to ``run``; ``None`` when there is none; an error otherwise."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the progress file {path} ({exc}); run without --resume to start over") from None
    if data.pop("version", None) != VERSION:
        raise ValueError(f"{path} was written by another gnnpt version; run without --resume to start over")
    problems = _differences(data.get("run", {}), run)
    if problems:
        raise ValueError(
            f"cannot resume from {path}: " + "; ".join(problems) + ". Run without --resume to start over "
            "(this overwrites the output), or write to another output file."
        )
    return Progress(**data)
