"""The answers agree with the OpenAPI document (issue 16, item 10): each status an operation answers is documented for
it, in the media type it is sent in, and the body fits the documented schema."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from fastapi.testclient import TestClient

from gnnpt.api import Settings, create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(adaptation_workers=0, max_body_bytes=1000, jobs_dir=str(tmp_path_factory.mktemp("jobs")))
    with TestClient(create_app(settings)) as c:
        yield c


def assert_documented(client: TestClient, method: str, path: str, response: httpx.Response) -> None:
    """``response`` (to ``method`` on the route ``path``) has a documented status and media type, and its body fits
    the documented schema."""
    document: dict[str, Any] = client.app.openapi()
    answers = document["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in answers, f"{method.upper()} {path} answered {status}; the document lists {sorted(answers)}"
    media = response.headers["content-type"].split(";")[0]
    content = answers[status].get("content", {})
    assert media in content, f"{status} sent as {media}; documented as {sorted(content)}"
    jsonschema.validate(response.json(), {**content[media]["schema"], "components": document["components"]})


def test_a_chunked_body_over_the_limit_is_413_as_documented(client) -> None:
    """A body without Content-Length that grows past the limit used to be FastAPI's 400 ("error parsing the body")."""
    chunks = iter([b'{"smiles": [', b'"CCO", ' * 200, b'"CCO"]}'])  # a generator: sent chunked, length unknown
    response = client.post("/v1/predict", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "over the limit of 1000 bytes" in response.json()["detail"]
    assert_documented(client, "post", "/v1/predict", response)


def test_422_bodies_fit_the_documented_schema_as_sentences_and_as_field_lists(client) -> None:
    """The service's own 422s carry a sentence; the document promised FastAPI's list only."""
    sentence = client.post("/v1/predict/csv", content=b"", headers={"content-type": "text/csv"})
    assert sentence.status_code == 422 and isinstance(sentence.json()["detail"], str)
    assert_documented(client, "post", "/v1/predict/csv", sentence)
    fields = client.post("/v1/predict", json={"ids": [1]})
    assert fields.status_code == 422 and fields.json()["detail"][0]["loc"] == ["body", "smiles"]
    assert_documented(client, "post", "/v1/predict", fields)


def test_a_body_that_is_not_utf8_json_is_a_documented_400_that_says_what_to_send(client) -> None:
    response = client.post("/v1/predict", content=b'{"smiles": ["\xff"]}', headers={"content-type": "application/json"})
    assert response.status_code == 400 and "send UTF-8 JSON" in response.json()["detail"]
    assert_documented(client, "post", "/v1/predict", response)
    form = client.post("/v1/predict/csv", content=b"x", headers={"content-type": "multipart/form-data"})
    assert form.status_code == 400 and "boundary" in form.json()["detail"]
    assert_documented(client, "post", "/v1/predict/csv", form)


def test_the_report_pages_404_is_documented_as_the_json_it_is(client) -> None:
    response = client.get("/v1/adaptations/no-such-job/report")
    assert response.status_code == 404 and "no adaptation job" in response.json()["detail"]
    assert_documented(client, "get", "/v1/adaptations/{job_id}/report", response)


@pytest.mark.parametrize(("path", "methods"), [("/v1/adaptations", {"GET", "POST"}),
                                              ("/v1/adaptations/abc", {"GET", "DELETE"})])  # fmt: skip
def test_a_405_names_every_method_of_the_path(client, path: str, methods: set[str]) -> None:
    """Starlette's 405 named the first matching route's methods only (``Allow: POST`` on /v1/adaptations)."""
    response = client.options(path)
    assert response.status_code == 405
    assert methods <= {m.strip() for m in response.headers["allow"].split(",")}


@pytest.mark.parametrize("query", ["smile_col=smiles", "smiles_col=smiles&smiles_col=name"])
def test_the_csv_endpoint_refuses_query_parameters_it_does_not_take(client, query: str) -> None:
    """A misspelt or repeated ``smiles_col`` was ignored (or the last one taken) and the table scored: 200."""
    response = client.post(
        f"/v1/predict/csv?{query}", content=b"smiles,name\nCCO,a\n", headers={"content-type": "text/csv"}
    )
    assert response.status_code == 422 and "takes one, smiles_col, at most once" in response.json()["detail"]
    assert_documented(client, "post", "/v1/predict/csv", response)


def test_booleans_must_be_json_booleans_as_documented(client) -> None:
    """``"depict": 0`` is not the documented boolean; it used to be read as false and answered 200."""
    response = client.post("/v1/predict", json={"smiles": ["CCO"], "depict": 0})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "depict"]
    assert_documented(client, "post", "/v1/predict", response)


def test_the_schema_states_the_rules_that_schemathesis_found_unstated(client) -> None:
    """Issue 32, item 6 (schemathesis ST202): the document admitted ids past 64 bits and empty adaptation names and
    targets, which the server rejects. It now states them; what no schema can state (ids as many as smiles) is said
    in the field's description."""
    import re

    from gnnpt.adaptation.spec import AdaptationSpec

    document = client.app.openapi()
    ids = document["components"]["schemas"]["PredictRequest"]["properties"]["ids"]
    number = ids["anyOf"][0]["items"]["anyOf"][1]
    assert (number["minimum"], number["maximum"]) == (-(2**63), 2**63 - 1) and "one per SMILES" in ids["description"]
    form = document["paths"]["/v1/adaptations"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    fields = document["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]["properties"]
    for name in ("my_model", "a", "x" * 64, "", "-x", "x" * 65, "a b"):
        stated = re.search(fields["name"]["pattern"], name) is not None
        try:
            AdaptationSpec(name=name, targets=["y"])
            accepted = True
        except ValueError:
            accepted = False
        assert stated == accepted, name
    for targets, stated in (("herg", True), ("a, b", True), ("", False), (" , ", False)):
        assert (re.search(fields["targets"]["pattern"], targets) is not None) == stated
    response = client.post("/v1/adaptations", data={"name": "", "targets": "y"},
                           files={"labeled": ("l.csv", b"smiles,y\nC,1\n", "text/csv")})  # fmt: skip
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "name"]
    assert_documented(client, "post", "/v1/adaptations", response)
