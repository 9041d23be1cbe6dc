"""Schemathesis against the service's own OpenAPI document: generated requests (bounded) never get a server error,
and every answer is documented (status, media type, schema) and refuses what the document says is invalid.
``benchmarks/attack_service.py`` runs every check against a real ``gnnpt serve``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis to fuzz the API")
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from gnnpt.api import Settings, create_app  # noqa: E402

app = create_app(Settings(adaptation_workers=0, max_molecules=64, max_explain=2, batch_window_ms=0))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_answers_conform(case) -> None:
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance, negative_data_rejection])  # fmt: skip
