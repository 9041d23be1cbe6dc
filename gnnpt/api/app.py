"""The FastAPI app: model listing and cards, scoring (JSON and CSV), health, metrics, and the chemist's web page.

``create_app(settings)`` builds it for tests and for any ASGI server; ``gnnpt serve`` runs it under uvicorn.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Body, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException as StarletteHTTPException

import gnnpt
from gnnpt.adaptation.jobs import JobStore
from gnnpt.adaptation.submit import UploadTooLarge
from gnnpt.adaptation.worker import WorkerPool
from gnnpt.api.adaptations import BUSY_TIMEOUT_S, adaptation_router
from gnnpt.api.auth import KeyGate, check_key
from gnnpt.api.batching import off_loop
from gnnpt.api.cost import molecule_atoms
from gnnpt.api.limits import BodyDeadline, BodyLimit
from gnnpt.api.metrics import Metrics
from gnnpt.api.observe import Observe
from gnnpt.api.schemas import INT64, ErrorBody, ModelSummary, PredictRequest, PredictResponse, UnprocessableBody
from gnnpt.api.service import BadRequest, BrokenModel, ModelLoading, ModelService, UnknownModel
from gnnpt.api.settings import Settings
from gnnpt.api.tables import scored_csv
from gnnpt.featurization.contained import ParseLimits
from gnnpt.runtime import torch_threads

WEB_DIR = Path(str(resources.files("gnnpt.api") / "web"))
# a request is scored only when its estimated time is within this share of the timeout (the rest is headroom for
# other requests sharing the scorer and for the estimate's error)
TIME_MARGIN = 0.5
DOCS_ASSETS = "/docs-assets"  # Swagger UI's and ReDoc's scripts and styles, served here rather than from a CDN
# Answers any operation may give (documented on every one): a body that cannot be parsed,
# a request too slow to arrive, a body over the limit.
TRANSPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body cannot be parsed (JSON that is not UTF-8, a broken form)."},
    408: {"model": ErrorBody, "description": "The request's headers or body did not arrive in time; the connection "
          "is closed."},
    413: {"model": ErrorBody, "description": "The body, or the molecules or heavy atoms in it, over the limit."},
}  # fmt: skip
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No API key (the service has keys)."},
    403: {"model": ErrorBody, "description": "An API key the service does not accept."},
    404: {"model": ErrorBody, "description": "No such model or job."},
    422: {"model": UnprocessableBody, "description": "Invalid fields (a list), or a request that cannot be served "
          "as sent (a sentence saying why)."},
    503: {"model": ErrorBody, "description": "A model on the server that cannot be served, a model still loading "
          "(with Retry-After), or a busy job store."},
    504: {"model": ErrorBody, "description": "Scoring took longer than the request timeout."},
}  # fmt: skip
CSV_EXAMPLE = "smiles,id\nCCO,ethanol\nc1ccccc1O,phenol\nnot a smiles,bad\n"
SEND_FILES = ("Send a file as it is: curl --data-binary @library.csv -H 'Content-Type: text/csv', or -F "
              "file=@library.csv (curl -d drops the file's line breaks, leaving a header and no rows)")  # fmt: skip
FORM_ENCODED = f"a form-encoded body (what curl -d sends) is not a table. {SEND_FILES}"

log = logging.getLogger(__name__)


def json_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every error answer documented as JSON, which it is: FastAPI documents a route's extra
    answers in the route's own media type (the report page's 404 as text/html)."""
    for operation in (op for path in document["paths"].values() for op in path.values()):
        for code, answer in operation["responses"].items():
            content = answer.get("content", {})
            if code >= "400" and content and "application/json" not in content:
                answer["content"] = {"application/json": next(iter(content.values()))}
    return document


def exact_int64(node: Any) -> Any:
    """``node`` (the document, walked) with 64-bit integer bounds written exactly: FastAPI's OpenAPI model keeps
    bounds as floats, and 2**63 - 1 rounds up to 2**63, a number the server refuses."""
    if isinstance(node, dict):
        if node.get("type") == "integer" and (node.get("minimum"), node.get("maximum")) == tuple(map(float, INT64)):
            node["minimum"], node["maximum"] = INT64
        for value in node.values():
            exact_int64(value)
    elif isinstance(node, list):
        for value in node:
            exact_int64(value)
    return node


def allowed_methods(document: dict[str, Any], path: str, allow: str) -> str:
    """``allow`` (Starlette's ``Allow``, which names the first route matching ``path`` only) with every method the
    document gives the path."""
    methods = {m.strip() for m in allow.split(",") if m.strip()}
    for template, operations in document["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path):
            methods |= {m.upper() for m in operations}
    return ", ".join(sorted(methods))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service app for ``settings`` (default: :class:`Settings` from the environment)."""
    settings = settings or Settings()
    key_hashes = settings.key_hashes()
    metrics = Metrics()
    service = ModelService(settings, on_batch=metrics.batch_size.observe)

    jobs = JobStore(settings.jobs_dir, busy_timeout=BUSY_TIMEOUT_S)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        workers = WorkerPool(settings.adaptation_workers, jobs.root, settings.adaptation_threads).start()
        try:
            with torch_threads(settings.scoring_threads()):  # threads waiting for a core would slow every batch
                await service.start()
                gc.collect()
                gc.freeze()  # the loaded models and libraries: later collections no longer walk them (shorter pauses)
                yield
                await service.close()  # uvicorn stops taking requests first; queued molecules are still scored
        finally:
            workers.stop()  # a job in progress is re-queued (and resumed) at the next start

    app = FastAPI(
        title="gnnpt scoring service",
        version=gnnpt.__version__,
        description="Scores molecules (SMILES) with fine-tuned molecular GNNs. Invalid SMILES get a per-molecule "
        "`error`; the other molecules of the request are scored. Send `X-API-Key` when the service has keys.",
        lifespan=lifespan,
        responses=TRANSPORT_ERRORS,
        docs_url=None,  # FastAPI's pages load their scripts from a CDN: blank without internet; served below
        redoc_url=None,
    )
    build_openapi = app.openapi
    app.openapi = lambda: exact_int64(json_errors(build_openapi()))  # type: ignore[method-assign]
    app.state.service, app.state.metrics, app.state.settings = service, metrics, settings
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       prefixes={"/v1/adaptations": settings.max_upload_bytes})  # fmt: skip
    app.add_middleware(BodyDeadline, timeout_s=settings.body_timeout_s)
    app.add_middleware(KeyGate, hashes=key_hashes)  # before the body is read: 401 first, then any 413 or 422
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["*"])  # fmt: skip
    app.add_middleware(Observe, metrics=metrics)  # added last: the outermost, so it sees every answer (413s too)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """FastAPI's answer, with two fixes: a 405 names every method of the path in ``Allow``, and a JSON body that
        cannot be decoded (FastAPI raises its 400 *from* the decoding error) says why and what to send."""
        if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            headers = exc.headers or {}
            allow = allowed_methods(app.openapi(), request.url.path, headers.get("Allow", ""))
            exc.headers = {**headers, "Allow": allow}
        elif exc.status_code == status.HTTP_400_BAD_REQUEST and exc.__cause__ is not None:
            exc.detail = f"the body cannot be read as JSON ({exc.__cause__}); send UTF-8 JSON"
        return await http_exception_handler(request, exc)

    @app.exception_handler(UnknownModel)
    async def unknown(_: Request, exc: UnknownModel) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(BadRequest)
    async def invalid(_: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(RequestValidationError)
    async def unprocessable(_: Request, exc: RequestValidationError) -> Response:
        """FastAPI's 422 body, written with ASCII escapes: an input that holds a lone surrogate is echoed as
        ``\\udXXX`` instead of breaking the reply's UTF-8."""
        body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
        return Response(body, status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/json")

    @app.exception_handler(ModelLoading)
    async def loading(_: Request, exc: ModelLoading) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": str(exc.RETRY_AFTER_S)})  # fmt: skip

    @app.exception_handler(BrokenModel)
    async def broken(_: Request, exc: BrokenModel) -> JSONResponse:
        log.error("%s", exc)
        return JSONResponse({"detail": str(exc)}, status.HTTP_503_SERVICE_UNAVAILABLE)

    async def authorized(request: Request) -> None:  # async: no thread-pool hop per request
        check_key(request, key_hashes)

    async def owner(request: Request) -> str:
        """Who is calling: the digest of their API key ("anonymous" when the service has no keys)."""
        return check_key(request, key_hashes) or "anonymous"

    limits = ParseLimits(settings.parse_memory_mb, settings.parse_time_s)  # the uploads' molecules, as predict's
    app.include_router(adaptation_router(jobs, owner, settings.adaptation_encoder, limits, settings.max_upload_bytes),
                       responses=ERRORS)  # fmt: skip

    async def score(request: Request, name: str, body: PredictRequest) -> dict[str, Any]:
        """The response body (see :class:`PredictResponse`) of scoring ``body`` with model ``name``."""
        if len(body.smiles) > settings.max_molecules:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                f"{len(body.smiles)} molecules in one request; the limit is {settings.max_molecules}: "
                                "split the list, or use `gnnpt screen` for libraries")  # fmt: skip
        atoms = await off_loop(len(body.smiles), lambda: molecule_atoms(body.smiles, settings.max_atoms,
                                                                        settings.max_smiles_length))  # fmt: skip
        if sum(atoms) > settings.max_request_atoms:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                f"about {sum(atoms):,} heavy atoms in one request; the limit is "
                                f"{settings.max_request_atoms:,}: split the list, or use `gnnpt screen` for "
                                "libraries")  # fmt: skip
        budget, began = settings.request_timeout_s * TIME_MARGIN, time.monotonic()
        seconds, fits = await service.estimate(name, atoms, budget)  # a model's first load spends its time
        if seconds > budget:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                f"these {len(body.smiles):,} molecules would take about {seconds:.0f} s to score "
                                f"with {name} on this server now, more than it accepts within the "
                                f"{settings.request_timeout_s:g} s timeout: send about {fits:,} molecules like these "
                                "per request, or use `gnnpt screen` for libraries")  # fmt: skip
        request.state.molecules = len(body.smiles)
        try:
            left = settings.request_timeout_s - (time.monotonic() - began)
            result = await asyncio.wait_for(service.predict(name, body, atoms), left)
        except TimeoutError:
            raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT,
                                f"scoring took longer than {settings.request_timeout_s:g} s; send fewer molecules "
                                "per request") from None  # fmt: skip
        errors = [r["error"] for r in result["results"] if r["error"] is not None]
        metrics.molecules.labels(name).inc(len(result["results"]) - len(errors))
        for error in errors:
            metrics.errors.labels(error.split(":", 1)[0]).inc()
        return result

    async def score_json(request: Request, name: str, body: PredictRequest) -> Response:
        # serialized here (orjson) rather than validated again against the response model, which only documents it
        result = await score(request, name, body)
        return Response(await off_loop(len(body.smiles), lambda: orjson.dumps(result)), media_type="application/json")

    async def score_csv(request: Request, name: str, smiles_col: str | None) -> Response:
        given = [key for key, _ in request.query_params.multi_items()]
        if given not in ([], ["smiles_col"]):  # a misspelt smiles_col would otherwise be ignored without a word
            detail = f"query parameters {given}: this endpoint takes one, smiles_col, at most once"
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):  # what curl -d sends, line breaks dropped
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, FORM_ENCODED)
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get("file")
            if not isinstance(upload, StarletteUpload):
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                    "a multipart upload sends the table as the form field 'file' "
                                    "(curl -F file=@library.csv)")  # fmt: skip
            data, filename = await upload.read(), upload.filename or "upload.csv"
            given = form.get("smiles_col")
            smiles_col = smiles_col or (given if isinstance(given, str) and given else None)
        else:
            data, filename = await request.body(), "upload.csv"
        try:
            upload = await asyncio.to_thread(service.read_upload, data, filename, smiles_col)
        except UploadTooLarge as exc:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the upload cannot be read: {exc}") from None
        if not upload.rows:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"the table has no rows, only a header: nothing to score. {SEND_FILES}")  # fmt: skip
        result = await score(request, name, PredictRequest(smiles=upload.smiles))
        text = await asyncio.to_thread(scored_csv, upload, result)
        return Response(text, media_type="text/csv",
                        headers={"content-disposition": f'attachment; filename="{name}_scores.csv"'})  # fmt: skip

    upload = {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}, "smiles_col": {"type": "string"}}}  # fmt: skip
    csv_body = {"content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
                            "multipart/form-data": {"schema": upload}}, "required": True}  # fmt: skip
    csv_out = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The rows with scores."},
               415: {"model": ErrorBody, "description": "A form-encoded body (curl -d): send the file."}}  # fmt: skip
    v1 = {"dependencies": [Depends(authorized)], "responses": ERRORS}

    @app.get("/v1/models", response_model=list[ModelSummary], tags=["models"], **v1)
    async def models() -> list[ModelSummary]:
        """Every model the service can load: the model store's versions and the shipped models."""
        return await asyncio.to_thread(service.summaries)

    @app.get("/v1/models/{name}", tags=["models"], **v1)
    async def model_card(name: str) -> dict[str, Any]:
        """A model's card: tasks, training data, split, metrics, lineage."""
        return await asyncio.to_thread(service.card, name)

    @app.post("/v1/predict", response_model=PredictResponse, tags=["predict"], **v1)
    async def predict_default(request: Request, body: Annotated[PredictRequest, Body()]) -> Response:
        """Score molecules with the default model."""
        return await score_json(request, service.default, body)

    @app.post("/v1/models/{name}/predict", response_model=PredictResponse, tags=["predict"], **v1)
    async def predict(request: Request, name: str, body: Annotated[PredictRequest, Body()]) -> Response:
        """Score molecules with model ``name`` (``name@v2`` for a version)."""
        return await score_json(request, name, body)

    @app.post("/v1/predict/csv", tags=["predict"], openapi_extra={"requestBody": csv_body},
              response_class=Response, responses={**ERRORS, **csv_out}, dependencies=[Depends(authorized)])  # fmt: skip
    async def predict_csv_default(request: Request, smiles_col: str | None = None) -> Response:
        """Score a table with the default model: a CSV body (``Content-Type: text/csv``) or a file upload
        (``multipart/form-data``, field ``file``: CSV, TSV, SMI, SDF or Parquet). The SMILES column is found by name
        or given as ``smiles_col``. Returns the rows as sent, with canonical SMILES, scores, domain fields and
        errors, as CSV."""
        return await score_csv(request, service.default, smiles_col)

    @app.post("/v1/models/{name}/predict/csv", tags=["predict"], openapi_extra={"requestBody": csv_body},
              response_class=Response, responses={**ERRORS, **csv_out}, dependencies=[Depends(authorized)])  # fmt: skip
    async def predict_csv(request: Request, name: str, smiles_col: str | None = None) -> Response:
        """:http:post:`/v1/predict/csv` with model ``name``."""
        return await score_csv(request, name, smiles_col)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"model": ErrorBody}})
    async def readyz() -> JSONResponse:
        """The default model is loaded and requests are being taken."""
        if not service.ready:
            return JSONResponse({"detail": "loading the default model"}, status.HTTP_503_SERVICE_UNAVAILABLE)
        return JSONResponse({"status": "ready", "default_model": service.default})

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics: requests, latency histograms, molecules scored, errors by kind, batch sizes."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(WEB_DIR / "favicon.svg", media_type="image/svg+xml")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        """Swagger UI from files installed with gnnpt (fastapi-offline's copy): the page works offline."""
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API docs",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css", swagger_favicon_url="/favicon.ico",
                                   oauth2_redirect_url=None)  # fmt: skip

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js", redoc_favicon_url="/favicon.ico",
                              with_google_fonts=False)  # fmt: skip

    app.mount(DOCS_ASSETS, StaticFiles(directory=Path(str(resources.files("fastapi_offline") / "static"))),
              name="docs-assets")  # fmt: skip
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app
