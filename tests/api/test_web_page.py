"""The web page end to end in headless Chromium (Playwright driving /usr/bin/chromium): paste SMILES or upload an SDF
file, score, see the table with depictions, coloured scores, the invalid row marked, and a CSV download; a screenshot
shows it rendered. The favicon is checked through the ASGI app, without a browser."""

from __future__ import annotations

import csv
import gzip
import io
import shutil

import pytest
from fastapi.testclient import TestClient

from gnnpt.api import Settings, create_app

try:
    from playwright import sync_api as playwright
except ImportError:
    playwright = None
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    playwright is None or CHROMIUM is None, reason="needs playwright (pip) and Chromium (apt-get install chromium)"
)
WIDTH = 1280


@pytest.fixture()
def browser_page(server):
    """The page at 1280x800 with the models listed, and the list of URLs it fetched from another origin."""
    _, url = server
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = chromium.new_page(viewport={"width": WIDTH, "height": 800})
        elsewhere = []
        page.on("request", lambda r: None if r.url.startswith(url) else elsewhere.append(r.url))
        page.goto(url)
        page.wait_for_selector("#model option", state="attached")
        yield page, elsewhere
        chromium.close()


def download(page) -> str:
    """The text that Download CSV saves."""
    with page.expect_download() as saved:
        page.click("#download")
    assert saved.value.suggested_filename == "scores.csv"
    return open(saved.value.path()).read()


@needs_browser
def test_paste_score_and_see_the_table(browser_page, tmp_path) -> None:
    from PIL import Image

    page, elsewhere = browser_page
    assert "tox21" in page.input_value("#model")
    page.click("#endpoints summary")  # what the scores mean, from /v1/models
    assert page.locator("#endpoint-rows tr").count() == 12 and "mitochondrial" in page.inner_text("#endpoint-rows")
    legend = page.locator("#legend")
    assert not legend.is_visible() and not page.is_visible("#download")  # nothing to download before scoring
    assert page.get_attribute("#download", "href") is None
    page.fill("#smiles", "CCO ethanol\nnot_a_smiles( junk\nc1ccccc1O phenol")
    page.click("#score")
    page.wait_for_selector("#results tbody tr:nth-child(3)")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 3
    assert rows.nth(1).get_attribute("class") == "invalid" and "unparsable" in rows.nth(1).inner_text()
    assert rows.nth(0).locator("td.mol svg").count() == 1 and rows.nth(1).locator("td.mol svg").count() == 0
    assert "ethanol" in rows.nth(0).inner_text() and "phenol" in rows.nth(2).inner_text()
    colour = rows.nth(0).locator("td.score").first.evaluate("td => getComputedStyle(td).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
    assert "3 scored by tox21" in page.inner_text("#status") and "1 invalid" in page.inner_text("#status")
    legend.wait_for(state="visible")
    lines = download(page).splitlines()
    assert lines[0].startswith("id,smiles,canonical_smiles,NR-AR") and len(lines) == 4
    assert lines[1].startswith("ethanol,CCO,CCO,") and "unparsable" in lines[2]

    headers = page.locator("#results thead th")
    names = headers.all_inner_texts()
    for name in ("max similarity", "domain", "error"):  # in view at 1280 px, without scrolling
        box = headers.nth(names.index(name)).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (name, box)
    shot = page.locator("#results").screenshot(path=str(tmp_path / "table.png"))
    headers.last.scroll_into_view_if_needed()  # every task column is reachable: the table scrolls in its box if wider
    box = headers.last.bounding_box()
    assert names[-1] == "SR-p53" and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH  # the page itself never scrolls sideways

    image = Image.open(io.BytesIO(shot)).convert("RGB")
    assert image.width > 600 and image.height > 200
    assert len(image.getcolors(maxcolors=1 << 20)) > 50  # structures, coloured cells and text, not a blank box
    assert elsewhere == []  # works offline: nothing fetched from another origin


@needs_browser
def test_upload_an_sdf_file(browser_page, tmp_path) -> None:
    from rdkit import Chem

    page, elsewhere = browser_page
    assert {".sdf", ".sdf.gz"} <= set(page.get_attribute("#file", "accept").split(","))
    sdf = tmp_path / "library.sdf"
    with Chem.SDWriter(str(sdf)) as writer:
        for smiles, title, note in [("OCC", "ethanol", 'solvent, "common"'), ("Oc1ccccc1", "phenol", "")]:
            mol = Chem.MolFromSmiles(smiles)
            mol.SetProp("_Name", title)
            mol.SetProp("note", note)
            writer.write(mol)
    packed = tmp_path / "library.sdf.gz"
    packed.write_bytes(gzip.compress(sdf.read_bytes()))
    tables = []
    for path in (sdf, packed):
        page.reload()
        page.wait_for_selector("#model option", state="attached")
        page.set_input_files("#file", str(path))
        page.click("#score")
        page.wait_for_selector("#legend", state="visible")
        assert "2 scored by tox21" in page.inner_text("#status") and "0 invalid" in page.inner_text("#status")
        rows = page.locator("#results tbody tr")
        assert rows.count() == 2
        tables.append(rows.all_inner_texts())
        saved = list(csv.DictReader(io.StringIO(download(page))))  # the server's CSV: the file's fields kept
        assert [r["title"] for r in saved] == ["ethanol", "phenol"] and saved[0]["note"] == 'solvent, "common"'
        assert [r["canonical_smiles"] for r in saved] == ["CCO", "Oc1ccccc1"]
        for row, record in zip(tables[-1], saved, strict=True):
            assert record["title"] in row and record["canonical_smiles"] in row
            assert f"{float(record['NR-AR']):.3f}" in row and f"{float(record['max_similarity']):.2f}" in row
    assert tables[0] == tables[1]
    assert elsewhere == []


@needs_browser
def test_upload_a_semicolon_csv_with_quoted_commas(browser_page, tmp_path) -> None:
    """Issue 32, item 12: the page refused a ;-separated CSV (as spreadsheets with decimal commas export) that the
    CLI and REST read, and split a quoted cell at its commas. It reads a file as they do."""
    page, elsewhere = browser_page
    table = tmp_path / "library.csv"
    rows = ["\ufeffName;SMILES;pIC50", '"aspirin, 100 mg";CC(=O)Oc1ccccc1C(=O)O;5,1', "phenol;c1ccccc1O;6,0"]
    table.write_text("\r\n".join(rows) + "\r\n")
    page.set_input_files("#file", str(table))
    page.click("#score")
    page.wait_for_selector("#legend", state="visible")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 2 and "2 scored by tox21" in page.inner_text("#status")
    assert "aspirin, 100 mg" in rows.nth(0).inner_text() and "phenol" in rows.nth(1).inner_text()
    assert "0 invalid" in page.inner_text("#status") and elsewhere == []


def test_favicon(tmp_path) -> None:
    client = TestClient(create_app(Settings(adaptation_workers=0, jobs_dir=str(tmp_path / "jobs"))))
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"
    assert response.text.startswith("<svg")
    assert '<link rel="icon" href="/favicon.ico"' in client.get("/").text


def test_the_api_docs_load_nothing_from_another_origin() -> None:
    """Issue 32, item 10: /docs loaded Swagger UI from a CDN and was blank without internet. Every script and style
    of /docs and /redoc is served by the service itself."""
    import re

    with TestClient(create_app(Settings(adaptation_workers=0))) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', html)), html
            assets = re.findall(r'(?:src|href)="(/[^"]+)"', html)
            assert assets and all(client.get(a).status_code == 200 for a in assets)


@needs_browser
def test_the_api_docs_render_offline(server) -> None:
    """Swagger UI renders every operation with every request to another origin refused (no internet)."""
    _, url = server
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = chromium.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url) else route.abort())
        page.goto(f"{url}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        assert page.locator(".opblock").count() >= 10 and "/v1/predict" in page.inner_text(".swagger-ui")
        chromium.close()
