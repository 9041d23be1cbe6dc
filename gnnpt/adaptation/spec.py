"""What an adaptation job does (``AdaptationSpec``) and the check of its uploads before any training starts."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnnpt.datasets.readers import read_molecules
from gnnpt.datasets.splits import scaffold_folds
from gnnpt.featurization.contained import ContainedFeaturizer, ParseLimits, contained_parsing
from gnnpt.featurization.pipeline import featurize
from gnnpt.finetune.auto import AutoConfig
from gnnpt.finetune.run import LabeledData, infer_task_type
from gnnpt.finetune.tasks import check_task_type
from gnnpt.models.defaults import DEFAULT_ENCODER
from gnnpt.models.packaged import packaged_models
from gnnpt.models.store import RegistryError, resolve_encoder, scratch_gnn_type
from gnnpt.pretraining.continued import ADAPT_MINUTES

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_ADAPT_MINUTES = 60
MIN_LABELED = 20  # fewer valid rows leave nothing to cross-validate
JOB_CANDIDATES = ("trees", "forest", "minimol", "minimol_trees", "encoder")  # auto's, and the shipped encoder frozen


@dataclass
class AdaptationSpec:
    """One adaptation: ``encoder`` continued for ``adapt_minutes`` on the job's molecules (descriptor prediction),
    ``--model auto``'s recipe on the labels with that adapted encoder as one more candidate, a report of what the
    adaptation bought (scaffold cross-validation of the recipe with and without it, beside ECFP4 + forest and
    MiniMol + head), and registration as ``name`` (the next version of it with ``update``)."""

    name: str
    targets: list[str]
    smiles_col: str | None = None
    task_type: str | None = None  # inferred from the labels when None
    encoder: str = DEFAULT_ENCODER  # the encoder to adapt and to offer frozen (a name, a directory, hu2020:<name>)
    candidates: list[str] = field(default_factory=lambda: list(JOB_CANDIDATES))
    adapt_minutes: float = ADAPT_MINUTES  # continued pretraining on the job's molecules (0: no adaptive candidate)
    folds: int = 5  # the report's scaffold cross-validation folds
    repeats: int = 1  # the report's cross-validation, repeated with other fold seeds
    selection_folds: int = 3  # auto's own scaffold folds that weigh the candidates (the model and every report fold)
    seeds: int = 1
    update: str | None = None  # a model of an earlier job: train its next version from its labels plus these

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"name {self.name!r}: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        if not self.targets:
            raise ValueError("name at least one target column")
        if self.task_type is not None:
            check_task_type(self.task_type)
        AutoConfig(candidates=self.candidates)  # names what auto cannot train
        if self.seeds < 1 or self.repeats < 1:
            raise ValueError("seeds and repeats must be at least 1")
        if self.folds < 2:
            raise ValueError(f"folds={self.folds}: the report needs at least 2 scaffold folds (5 is the default)")
        if self.selection_folds < 3 and self.selection_folds != 0:
            raise ValueError(f"selection_folds={self.selection_folds}: 0 (weigh on a validation part) or 3 or more")
        if not 0 <= self.adapt_minutes <= MAX_ADAPT_MINUTES:
            raise ValueError(f"adapt_minutes={self.adapt_minutes}: 0 (no adaptive candidate) to {MAX_ADAPT_MINUTES}")
        if self.update is not None and self.update.partition("@")[0] != self.name:
            raise ValueError(f"an update trains the next version of {self.update!r}: name it "
                             f"{self.update.partition('@')[0]!r}")  # fmt: skip

    @property
    def adapts(self) -> bool:
        """Whether the job continues the encoder on its molecules (a fresh encoder has nothing to continue)."""
        return self.adapt_minutes > 0 and scratch_gnn_type(self.encoder) is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check_resources(self) -> None:
        """ValueError at submission for what would otherwise fail only after training: a name a shipped model has,
        an encoder this installation cannot load (said without the server's folders)."""
        if self.name in packaged_models() and self.update is None:  # an update of one is refused as not a job's
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

    def check_labels(self, frame: pd.DataFrame) -> None:
        """ValueError (before the job is queued) when the labels cannot be cross-validated by scaffold: fewer than
        two scaffolds, or a classification task without both classes."""
        data = self.labeled_data(frame)
        if len(scaffold_folds(data.smiles, np.arange(len(data.smiles)), 2)[1]) == 0:
            raise ValueError(f"the {len(data.smiles)} labeled molecules share one scaffold: a scaffold "
                             "cross-validation has no second fold; add molecules of other scaffolds")  # fmt: skip
        if data.task_type != "classification":
            return
        one = [t for k, t in enumerate(data.task_names)
               if len(np.unique(data.targets[:, k][~np.isnan(data.targets[:, k])])) < 2]  # fmt: skip
        if one:
            raise ValueError(f"target(s) {one} hold one class only: a classifier needs actives and inactives; add "
                             "molecules of the other class or leave the column out")  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdaptationSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown adaptation settings {unknown} (a job queued by an earlier gnnpt: submit it "
                             f"again); known: {sorted(known)}")  # fmt: skip
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
