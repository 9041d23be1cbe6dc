"""What an adaptation job does (``AdaptationSpec``) and the check of its uploads before any training starts."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnnpt.datasets.readers import read_molecules
from gnnpt.featurization.contained import ContainedFeaturizer, ParseLimits, contained_parsing
from gnnpt.featurization.pipeline import featurize
from gnnpt.featurization.vectors import check_vector_kinds
from gnnpt.finetune.run import SPLITS, LabeledData, check_split, infer_task_type, make_split
from gnnpt.finetune.strategies import Strategy
from gnnpt.finetune.tasks import check_task_type
from gnnpt.models.defaults import DEFAULT_ENCODER
from gnnpt.models.packaged import packaged_models
from gnnpt.models.store import RegistryError, resolve_encoder, scratch_gnn_type

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_LABELED = 20  # fewer valid rows leave nothing to split into train, valid and test


@dataclass
class AdaptationSpec:
    """One adaptation: optional domain-adaptive pretraining of ``encoder`` on the unlabeled molecules, fine-tuning on
    the labeled ones (scaffold split), the same fine-tuning from scratch for comparison, and registration as ``name``.
    """

    name: str
    targets: list[str]
    smiles_col: str | None = None
    task_type: str | None = None  # inferred from the labels when None
    encoder: str = DEFAULT_ENCODER  # what gnnpt finetune --encoder takes (a name, a .pth, hu2020:<name>, none)
    strategy: str = "full"
    descriptors: list[str] = field(default_factory=list)  # molecule vectors into the head beside the graph's (hybrid)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    seeds: int = 1
    pretrain_epochs: int = 3  # domain-adaptive pretraining epochs (used only with unlabeled molecules)
    compare_from_scratch: bool = True
    split: str = "scaffold"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"name {self.name!r}: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        if not self.targets:
            raise ValueError("name at least one target column")
        if self.task_type is not None:
            check_task_type(self.task_type)
        Strategy.parse(self.strategy)
        check_vector_kinds(self.descriptors)
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose one of {SPLITS}")
        for key in ("epochs", "batch_size", "seeds"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be at least 1")
        if self.pretrain_epochs < 0:
            raise ValueError("pretrain_epochs must be 0 or more")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check_resources(self) -> None:
        """ValueError at submission for what would otherwise fail only after training: a name a shipped model has,
        an encoder this installation cannot load (said without the server's folders)."""
        if self.name in packaged_models():
            raise ValueError(f"name {self.name!r} is taken by a shipped model; choose another name")
        if scratch_gnn_type(self.encoder) is not None:
            return
        try:
            resolve_encoder(self.encoder)
        except (FileNotFoundError, RegistryError, ValueError, KeyError):
            raise ValueError(f"encoder {self.encoder!r} is not available here: name 'none', a shipped or stored "
                             "encoder (GET /v1/models lists them) or hu2020:<name> of a published checkpoint "
                             "this server has") from None  # fmt: skip

    def labeled_data(self, frame: pd.DataFrame) -> LabeledData:
        """The checked labeled rows (``smiles`` + the target columns) as fine-tuning data."""
        targets = frame[self.targets].to_numpy("float32")
        return LabeledData(self.name, frame["smiles"].astype(str).tolist(), targets, list(self.targets),
                           self.task_type or infer_task_type(targets))  # fmt: skip

    def check_split(self, frame: pd.DataFrame) -> None:
        """ValueError when the job's split of the checked rows leaves a part with one class (before it is queued)."""
        data = self.labeled_data(frame)
        check_split(data, make_split(data, self.split), self.split)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdaptationSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown adaptation settings {unknown}; known: {sorted(known)}")
        return cls(**data)


@dataclass
class UploadReport:
    """The labeled file checked row by row: how many rows train, and every row left out with why."""

    rows: int
    usable: int
    problems: list[dict[str, Any]]  # {"row": 0-based data row, "smiles": ..., "problem": ...}
    unlabeled_rows: int = 0
    unlabeled_invalid: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_labeled(
    path: str | Path, spec: AdaptationSpec, limits: ParseLimits = ParseLimits()
) -> tuple[pd.DataFrame, UploadReport]:
    """Read the labeled file and report each row whose SMILES RDKit cannot parse (within ``limits``) or whose labels
    are not numbers.

    Raises ValueError (nothing to train on) for a missing column or fewer than ``MIN_LABELED`` usable rows.
    """
    try:
        frame = read_molecules(path, spec.smiles_col)
    except (ValueError, KeyError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValueError(f"cannot read the labeled file: {exc}") from None
    missing = [t for t in spec.targets if t not in frame.columns]
    if missing:
        raise ValueError(f"target columns {missing} are not in the labeled file; its columns are {list(frame.columns)}")
    problems: list[dict[str, Any]] = []
    numbers = frame[spec.targets].apply(pd.to_numeric, errors="coerce")
    raw = frame[spec.targets].astype(object)
    blank = raw.isna() | raw.map(lambda v: isinstance(v, str) and v.strip() in ("", "nan", "NaN", "NA", "None"))
    not_numeric = (numbers.isna() & ~blank).to_numpy()
    unlabeled = numbers.isna().all(axis=1).to_numpy()
    texts = raw.to_numpy()
    smiles_texts = frame["smiles"].fillna("").astype(str).tolist()
    unreadable = _molecule_errors(smiles_texts, limits)
    for i, smiles in enumerate(smiles_texts):
        if i in unreadable:
            problems.append({"row": i, "smiles": smiles, "problem": f"invalid SMILES ({unreadable[i]})"})
        elif not_numeric[i].any():
            values = {t: str(texts[i, k]) for k, t in enumerate(spec.targets) if not_numeric[i, k]}
            problems.append({"row": i, "smiles": smiles, "problem": f"labels that are not numbers: {values}"})
        elif unlabeled[i]:
            problems.append({"row": i, "smiles": smiles, "problem": "no label"})
    usable = len(frame) - len(problems)
    report = UploadReport(len(frame), usable, problems)
    if usable < MIN_LABELED:
        raise ValueError(f"only {usable} usable labeled rows (at least {MIN_LABELED} are needed); "
                         f"first problems: {problems[:5]}")  # fmt: skip
    keep = np.ones(len(frame), bool)
    keep[[p["row"] for p in problems]] = False
    clean = pd.DataFrame({"smiles": frame["smiles"].to_numpy()[keep]})
    for t in spec.targets:
        clean[t] = numbers[t].to_numpy(np.float32)[keep]
    return clean, report


def check_unlabeled(path: str | Path, report: UploadReport, limits: ParseLimits = ParseLimits()) -> list[str]:
    """The parsable SMILES of the unlabeled file (within ``limits``; counted into ``report``)."""
    try:
        frame = read_molecules(path)
    except (ValueError, KeyError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValueError(f"cannot read the unlabeled file: {exc}") from None
    smiles = frame["smiles"].fillna("").astype(str).tolist()
    unreadable = _molecule_errors(smiles, limits)
    valid = [s for i, s in enumerate(smiles) if i not in unreadable]
    report.unlabeled_rows, report.unlabeled_invalid = len(smiles), len(smiles) - len(valid)
    return valid


def _molecule_errors(smiles: list[str], limits: ParseLimits) -> dict[int, str]:
    """{row: "reason: message"} of the SMILES gnnpt's featurization refuses: the same rules as training and
    scoring (printable ASCII only, RDKit sanitization, the atom limit before ring perception), not plain
    ``MolFromSmiles``, which stops reading at the first non-ASCII byte and accepts what came before. Parsed in a
    child process (:mod:`gnnpt.featurization.contained`): an upload's molecule that crashes RDKit or passes
    ``limits`` is that row's problem, not the end of the process checking it (the web server)."""
    with ContainedFeaturizer(limits) as parser, contained_parsing(parser):
        return {e.index: f"{e.reason}: {e.message}" for e in featurize(smiles).errors}
