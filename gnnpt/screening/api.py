"""``screen``: score every molecule of a file with a fine-tuned model, streaming, into CSV or Parquet.

Memory stays bounded by a few chunks whatever the input size; the output has one row per input row, in input
order (or only the selected rows, with ``filters`` / ``top_k``), and an interrupted run continues with
``resume=True``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from gnnpt.models.scoring import ScoringModel
from gnnpt.models.store import model_path
from gnnpt.nn.precision import DEFAULT_PRECISION, resolve_precision
from gnnpt.predict.predictor import Predictor
from gnnpt.runtime import available_cores
from gnnpt.screening.checkpoint import Progress, load_for_resume, progress_path, run_identity
from gnnpt.screening.inputs import carried_columns, estimate_rows, numbered_chunks
from gnnpt.screening.lock import output_lock
from gnnpt.screening.progress import screening_bar
from gnnpt.screening.scoring import local_scored_chunks, output_columns
from gnnpt.screening.selection import Filter, TopK
from gnnpt.screening.sink import ResultSink, errors_path
from gnnpt.screening.writers import output_kind

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class ScreenSummary:
    """What a screening run did: rows read, scored and invalid, rows written, where, and how fast."""

    output: Path
    rows: int
    scored: int
    invalid: int
    written: int
    errors_file: Path | None
    resumed_rows: int
    seconds: float
    engine: str

    @property
    def rate(self) -> float:
        """Molecules per second screened by this call (resumed rows not counted)."""
        return (self.rows - self.resumed_rows) / max(self.seconds, 1e-9)


def _predictor(model: str | Path | Predictor | ScoringModel | None, device: str | None) -> Predictor:
    """What scores: a Predictor as given (from ``gnnpt.load``), a bare model (no applicability domain), or the model
    a name or directory gives, with its domain."""
    if isinstance(model, Predictor):
        return model
    if callable(getattr(model, "member_scores", None)):
        return Predictor(model)
    return Predictor.from_path(model_path(model), device or ("cuda" if torch.cuda.is_available() else "cpu"))


def _domain_fingerprint(predictor: Predictor) -> str | None:
    """SHA-256 of the applicability domain's fingerprints (``max_similarity`` depends on them), None without one."""
    if predictor.domain is None:
        return None
    return hashlib.sha256(predictor.domain.fingerprints.tobytes()).hexdigest() + f"@{predictor.threshold}"


def _selection(
    names: list[str], top_k: int | None, sort_by: str | None, filters: Sequence[str | Filter] | None
) -> tuple[list[Filter], TopK | None]:
    parsed = [f if isinstance(f, Filter) else Filter.parse(f, names) for f in filters or ()]
    if top_k is None:
        if sort_by is not None:
            raise ValueError("--sort-by (sort_by) needs --top-k (top_k): sorting every row would hold them all in "
                             "memory; sort the output")  # fmt: skip
        return parsed, None
    if sort_by is None:
        if len(names) > 1:
            raise ValueError(f"--top-k (top_k) needs --sort-by (sort_by), the output to rank by: one of {names}")
        sort_by = names[0]
    return parsed, TopK(top_k, sort_by, names)


def screen(
    input: str | Path,
    model: str | Path | Predictor | ScoringModel | None,
    output: str | Path,
    *,
    smiles_col: str | None = None,
    keep_columns: Sequence[str] | None = None,
    domain: bool = True,
    chunk_size: int = 10_000,
    workers: int = 0,
    batch_size: int = 1024,
    resume: bool = False,
    top_k: int | None = None,
    sort_by: str | None = None,
    filters: Sequence[str | Filter] | None = None,
    progress: bool = True,
    engine: str = "local",
    device: str | None = None,
    precision: str = DEFAULT_PRECISION,
) -> ScreenSummary:
    """Score every molecule of ``input`` (CSV/TSV/SMI/SDF/Parquet, plain or gzipped) into ``output``.

    ``model``: a Predictor (:func:`gnnpt.load`), a name or directory as :func:`gnnpt.load` takes it, or None for the
    default (Tox21). ``output`` (``.csv``, ``.csv.gz`` or ``.parquet``) gets ``row`` (0-based input record), the
    input's own columns (``keep_columns``: None for all of them, the default; a list of names; ``[]`` for none; an
    SDF's title and properties count as columns; kept as the text they are in the file; a name the output uses
    gets the prefix ``input_``), then the columns of :meth:`gnnpt.predict.Predictor.predict`: ``smiles`` (as read),
    ``canonical_smiles`` (empty when invalid), one column per model output, ``<output>_std`` (ensembles),
    ``max_similarity`` and ``in_domain`` (the model's applicability domain), and ``error`` (None, or
    "reason: message"); every input row appears once, in input order, invalid ones included. ``domain=False``
    leaves ``max_similarity`` / ``in_domain`` empty: about 25% faster with a fast model on 2 cores (the fingerprint
    comparison is then the largest cost left; ``benchmarks/RESULTS.md``).

    ``filters`` (e.g. ``["NR-AR>=0.5"]``, all must hold) and ``top_k``/``sort_by`` (the k highest rows of one
    output, best first; ties by row) keep only some rows; rows that could not be scored then go to
    ``OUT.errors.csv``. ``resume=True`` continues an interrupted run from ``OUT.progress.json`` (and starts
    from the beginning when there is none); with the same chunk and batch sizes the result equals an uninterrupted
    run's. A progress file of another input, model or selection is refused. ``workers``: featurization processes (local
    engine) or scoring actors (``engine="ray"``, see :mod:`gnnpt.screening.ray_engine`); 0 (the default): one per
    core (Ray: one per CPU of the cluster), or none beside this process for an input of one chunk. ``device``: where
    the local engine runs a model it loads by name (default: CUDA when available). ``precision``: ``auto`` (bfloat16
    where the hardware computes it natively, about 3x faster on such CPUs, scores within a few thousandths),
    ``bf16`` or ``fp32`` (see :mod:`gnnpt.nn.precision`).
    """
    input, output = Path(input), Path(output)
    output_kind(output)
    if not input.is_file():
        raise FileNotFoundError(f"{input} does not exist or is not a file")
    if output.resolve() == input.resolve():
        raise ValueError(f"the output {output} is the input file; write the scores to another file")
    if chunk_size < 1 or batch_size < 1 or workers < 0:
        raise ValueError("chunk_size and batch_size must each be at least 1, and workers at least 0 (0: one per core)")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    predictor = _predictor(model, "cpu" if engine == "ray" else device)
    if not domain and predictor.domain is not None:
        predictor = Predictor(predictor.model, None, predictor.threshold, predictor.max_atoms, predictor.precision)
    predictor.precision = resolve_precision(precision, "cpu" if engine == "ray" else predictor.device)
    names = predictor.model.output_names()
    filters_, top = _selection(names, top_k, sort_by, filters)
    carry = carried_columns(input, smiles_col, keep_columns, output_columns(predictor, []))
    settings = {
        "output": output_kind(output),
        "smiles_col": smiles_col,
        "columns": carry,
        "filters": [str(f) for f in filters_],
        "top_k": top.k if top else None,
        "sort_by": top.column if top else None,
        "precision": predictor.precision,
        "max_atoms": predictor.max_atoms,
        "domain": _domain_fingerprint(predictor),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(output):  # a second run on the same output is refused, not interleaved
        run = run_identity(input, predictor.model, settings)
        sidecar = progress_path(output)
        state = load_for_resume(sidecar, run) if resume else None
        if state is None:
            sidecar.unlink(missing_ok=True)
            state = Progress(run)
        resumed_rows = state.rows_done
        start = time.perf_counter()
        sink = ResultSink(output, output_columns(predictor, list(carry.values())), list(carry.values()), state,
                          filters_, top)  # fmt: skip
        chunks = numbered_chunks(
            input, smiles_col, chunk_size, skip=resumed_rows, carry=carry, max_atoms=predictor.max_atoms
        )
        rows = estimate_rows(input) if progress or workers == 0 else None
        if engine == "ray":
            from gnnpt.screening.ray_engine import ray_scored_chunks

            scored = ray_scored_chunks(chunks, predictor, batch_size, workers)  # 0: one actor per CPU of the cluster
        else:
            if workers == 0:
                workers = available_cores() if rows is None or rows > chunk_size else 1
            scored = local_scored_chunks(chunks, predictor, batch_size, workers)
        try:
            with screening_bar(rows if progress else None, resumed_rows, progress) as advance:
                for frame in scored:
                    sink.add(frame)
                    advance(len(frame))
            sink.finish()
        finally:
            scored.close()  # stops worker processes or Ray actors now, also after an error
            sink.close()
        counts = state.counts
        return ScreenSummary(
            output=output,
            rows=state.rows_done,
            scored=counts["scored"],
            invalid=counts["invalid"],
            written=counts["written"],
            errors_file=errors_path(output) if sink.selecting else None,
            resumed_rows=resumed_rows,
            seconds=time.perf_counter() - start,
            engine=engine,
        )
