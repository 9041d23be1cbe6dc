"""What the endpoints call: the registry's models, loaded once each and scored through a micro-batcher per model."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gnnpt.adaptation.submit import UploadTooLarge
from gnnpt.api.batching import MicroBatcher, off_loop
from gnnpt.api.cost import ScoringCost, molecule_atoms
from gnnpt.api.schemas import ModelSummary, PredictRequest
from gnnpt.api.settings import Settings
from gnnpt.api.tables import Upload, is_sdf, read_upload
from gnnpt.datasets.endpoints import endpoints
from gnnpt.featurization.contained import ContainedFailure, ContainedFeaturizer, ParseLimits, contained_parsing
from gnnpt.models.card import read_card
from gnnpt.models.defaults import DEFAULT_MODEL
from gnnpt.models.scored import ScoredMolecules
from gnnpt.models.store import RegistryError, list_models, model_path, resolve_name
from gnnpt.nn.precision import resolve_precision
from gnnpt.predict import Predictor
from gnnpt.predict.display import depiction_svg

TOO_LONG = "too long"


class UnknownModel(LookupError):
    """A model name that is neither in the store nor shipped (answered 404)."""


class BrokenModel(RuntimeError):
    """A model on the server that cannot be served (a corrupt card, weights that do not fit it): answered 503, a
    fault of the server's model store, never of the request."""


class ModelLoading(RuntimeError):
    """A model still loading when a request has waited its share of the timeout (answered 503 with Retry-After):
    the load goes on, and a later request finds the model ready."""

    RETRY_AFTER_S = 5

    def __init__(self, name: str):
        super().__init__(f"model {name!r} is still loading (a model loads on its first request, and some take a "
                         f"minute on a busy server): send the request again in {self.RETRY_AFTER_S} s")  # fmt: skip


class BadRequest(ValueError):
    """A request the service understood but cannot fulfil as asked (answered 422 with the reason)."""


class ModelService:
    """Loads models on first use (the default at start-up), keeps one :class:`MicroBatcher` each.

    Request molecules are parsed in a child process with memory and time limits (``parse_memory_mb``,
    ``parse_time_s``): a molecule that crashes RDKit or passes a limit is that row's error, and the server lives on.
    """

    def __init__(self, settings: Settings, on_batch: Callable[[int], None] | None = None):
        self.settings, self.on_batch = settings, on_batch
        limits = ParseLimits(settings.parse_memory_mb, settings.parse_time_s)
        self.parser = ContainedFeaturizer(limits)
        # uploads (tables, SDF records) are read in a process of their own: reading a wide table in the scoring parse
        # process held every other request's molecules behind it, and in a server thread the GIL
        self.reader = ContainedFeaturizer(limits, preload=("gnnpt.api.tables",))
        self.default = settings.default_model or DEFAULT_MODEL
        self._predictors: dict[str, Predictor] = {}
        self._costs: dict[str, ScoringCost] = {}
        self._batchers: dict[str, MicroBatcher] = {}
        self._loading: dict[str, asyncio.Task[MicroBatcher]] = {}
        self.ready = False

    async def start(self) -> None:
        """Start the parse and upload reading processes while the default model (and ``settings.preload``) loads;
        the service is ready afterwards."""
        parsers = [asyncio.create_task(asyncio.to_thread(p.start)) for p in (self.parser, self.reader)]
        for name in [self.default, *self.settings.preload]:
            await self.batcher(name)
        await asyncio.gather(*parsers)
        self.ready = True

    async def close(self) -> None:
        """Finish the queued requests of every model, then stop its scoring thread (models stay loaded)."""
        self.ready = False
        for loading in self._loading.values():  # no batcher starts after this
            loading.cancel()
        batchers, self._batchers = self._batchers, {}
        for batcher in batchers.values():
            await batcher.close()
        self.parser.close()
        self.reader.close()

    def summaries(self) -> list[ModelSummary]:
        return [ModelSummary(name=e.ref, version=e.version, kind=e.kind, tasks=list(e.tasks), shipped=e.shipped,
                             default=e.ref == self.default, test_metric=_test_metric(card), endpoints=endpoints(card))
                for e in list_models() for card in [read_card(e.path)]]  # fmt: skip

    def _path(self, name: str) -> Path:
        """Operator-configured models may be directories; names from requests are looked up in the registry only."""
        try:
            if name == self.default:
                return model_path(self.settings.default_model)
            return model_path(name) if name in self.settings.preload else resolve_name(name)
        except FileNotFoundError:
            raise UnknownModel(
                f"no model {name!r} on this service; GET /v1/models lists the models it serves"
            ) from None
        except RegistryError as exc:
            raise BrokenModel(f"model {name!r} cannot be served: {exc}") from None
        except ValueError as exc:  # a malformed reference, such as "name@x": no model has that name
            raise UnknownModel(
                f"no model {name!r} on this service ({exc}); GET /v1/models lists the models it serves"
            ) from None

    def card(self, name: str) -> dict[str, Any]:
        path = self._path(name)
        try:
            return read_card(path)
        except ValueError as exc:  # not valid JSON
            raise BrokenModel(f"model {name!r} has an unreadable card: {exc}") from None

    async def batcher(self, name: str, wait_s: float | None = None) -> MicroBatcher:
        """The running batcher of ``name``, the model loaded (off the event loop) on first use, one load per model
        however many requests wait for it; :class:`ModelLoading` when it is still loading after ``wait_s`` seconds
        (the load goes on)."""
        if name in self._batchers:
            return self._batchers[name]
        loading = self._loading.get(name)
        if loading is None:
            loading = self._loading[name] = asyncio.create_task(self._start_batcher(name))
            loading.add_done_callback(functools.partial(self._loaded, name))
        try:
            return await asyncio.wait_for(asyncio.shield(loading), wait_s)
        except TimeoutError:
            raise ModelLoading(name) from None

    async def _start_batcher(self, name: str) -> MicroBatcher:
        self._predictors[name], self._costs[name] = await asyncio.to_thread(self._load, name)
        cost = self._costs[name]
        batcher = MicroBatcher(functools.partial(self._score, self._predictors[name], cost),
                               self.settings.batch_window_ms / 1000, self.settings.max_batch_molecules, self.on_batch,
                               ScoredMolecules.concat, self.settings.max_batch_atoms, cost.piece_atoms)  # fmt: skip
        batcher.start()
        self._batchers[name] = batcher
        return batcher

    def _loaded(self, name: str, loading: asyncio.Task[MicroBatcher]) -> None:
        """A load ended: the next request for a model that failed to load tries again (its error, which the
        requests that waited were told, is not logged again as never retrieved)."""
        self._loading.pop(name, None)
        if not loading.cancelled():
            loading.exception()

    def read_upload(self, data: bytes, filename: str, smiles_col: str | None) -> Upload:
        """An uploaded table (see :func:`gnnpt.api.tables.read_upload`), read in the upload reading process, apart
        from the one that parses the molecules being scored: a wide table's parse and escaping cost this process
        one string per row. An SDF is split here and its records parsed there one call each, so that a record
        that crashes RDKit is that record's row error. ValueError (UploadTooLarge) for a file that cannot be
        read."""
        args = (data, filename, smiles_col, self.settings.max_body_bytes)
        if is_sdf(filename):
            with contained_parsing(self.reader):
                return read_upload(*args, max_atoms=self.settings.max_atoms)
        try:
            return self.reader.call(read_upload, *args, expected=(UploadTooLarge, ValueError))
        except ContainedFailure as exc:
            raise ValueError(f"reading it stopped the reading process: {exc}") from None

    def _score(self, predictor: Predictor, cost: ScoringCost, smiles: list[str]) -> ScoredMolecules:
        """``predictor.score`` with the molecules parsed in the parse process (whatever the model's featurization);
        the time it took rescales the model's cost estimate."""
        start = time.perf_counter()
        with contained_parsing(self.parser):
            scored = predictor.score(smiles)
        seconds = time.perf_counter() - start
        cost.observe(molecule_atoms(smiles, cost.limit), seconds)
        return scored

    async def estimate(self, name: str, atoms: list[int], budget: float) -> tuple[float, int]:
        """Seconds model ``name`` would take now to score molecules of ``atoms`` heavy atoms (:func:`molecule_atoms`)
        by itself, and how many of the first of them it scores within ``budget`` seconds; the model is loaded first,
        :class:`ModelLoading` past ``budget``. A big request's arithmetic runs off the event loop."""
        await self.batcher(name, budget)
        cost = self._costs[name]

        def estimate() -> tuple[float, int]:
            seconds = cost.seconds_for(atoms)
            return seconds, len(atoms) if seconds <= budget else cost.fitting(atoms, budget)

        return await off_loop(len(atoms), estimate)

    def _load(self, name: str) -> tuple[Predictor, ScoringCost]:
        path = self._path(name)
        if self.card(name).get("kind") == "encoder":
            raise UnknownModel(f"{name!r} is an encoder, not a model that scores; see GET /v1/models")
        try:
            predictor = Predictor.from_path(path)
            predictor.predict(["C"])  # a model whose inputs need a missing optional extra fails here, not per request
        except (ValueError, KeyError, OSError, RuntimeError, ImportError) as exc:  # weights, card or extras missing
            raise BrokenModel(f"model {name!r} cannot be loaded: {exc}") from None
        predictor.max_atoms = self.settings.max_atoms
        predictor.precision = resolve_precision(self.settings.precision, predictor.device)
        cost = ScoringCost.measure(predictor.score, self.settings.max_atoms, self.settings.max_batch_atoms)
        cost.piece_atoms = cost.atoms_within(self.settings.piece_ms / 1000, self.settings.max_batch_atoms)
        return predictor, cost  # measured on trusted probe molecules, parsed here

    async def predict(self, name: str, request: PredictRequest, atoms: list[int] | None = None) -> dict[str, Any]:
        """Score ``request`` with model ``name``: one result per SMILES, in order, invalid ones with their error.
        ``atoms``: each molecule's heavy atoms (:func:`molecule_atoms`), where the caller counted them already.

        Returns the :class:`PredictResponse` body as plain JSON-ready data (built without pydantic objects: for
        one-molecule requests that validation cost more than the scoring).
        """
        batcher = await self.batcher(name)
        predictor = self._predictors[name]
        limit = self.settings.max_smiles_length
        too_long = [len(s) > limit for s in request.smiles]
        scored = await batcher.submit(["" if long else s for s, long in zip(request.smiles, too_long, strict=True)],
                                      atoms)  # fmt: skip
        for i in (i for i, long in enumerate(too_long) if long):
            scored.errors[i] = f"{TOO_LONG}: {len(request.smiles[i])} characters, more than the limit of {limit}"
        ids = request.ids if request.ids is not None else [None] * len(request.smiles)
        results = await off_loop(len(ids), lambda: [
            {"index": i, "id": ids[i], "smiles": request.smiles[i], **record, "depiction_svg": None,
             "attribution_svg": None} for i, record in enumerate(scored.records())])  # fmt: skip
        if request.depict:
            svgs = await asyncio.to_thread(lambda: [depiction_svg(r["canonical_smiles"]) if r["canonical_smiles"]
                                                    else None for r in results])  # fmt: skip
            for r, svg in zip(results, svgs, strict=True):
                r["depiction_svg"] = svg
        if request.explain:
            await self._explain(batcher, predictor, request.explain_task, results)
        return {"model": name, "tasks": scored.names, "domain_threshold": predictor.threshold, "results": results}

    async def _explain(
        self, batcher: MicroBatcher, predictor: Predictor, task: str | None, results: list[dict[str, Any]]
    ) -> None:
        if task is not None and task not in predictor.model.output_names():
            raise BadRequest(f"explain_task {task!r} is not a task of this model: {predictor.model.output_names()}")
        try:
            predictor.gnn()
        except ValueError as exc:  # a fingerprint or ensemble model: nothing to attribute to atoms
            raise BadRequest(str(exc)) from None
        valid = [r for r in results if r["error"] is None]
        if len(valid) > self.settings.max_explain:
            raise BadRequest(f"attributions are limited to {self.settings.max_explain} molecules per request; "
                             f"this one has {len(valid)} valid molecules")  # fmt: skip
        for r in valid:
            r["attribution_svg"] = (await batcher.call(predictor.explain, r["canonical_smiles"], task)).svg


def _test_metric(card: dict[str, Any]) -> dict[str, Any] | None:
    """The primary test metric (mean, std over seeds) of a model card; None for encoders."""
    metrics = card.get("metrics") or {}
    primary = metrics.get("primary")
    summary = metrics.get("summary") or {}
    if not primary or f"test_{primary}_mean" not in summary:
        return None
    return {"metric": primary, "mean": summary[f"test_{primary}_mean"], "std": summary.get(f"test_{primary}_std")}
