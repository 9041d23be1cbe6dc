"""The web page end to end in headless Chromium (Playwright driving /usr/bin/chromium): paste SMILES, score, see the
table with depictions, coloured scores, the invalid row marked, and a CSV download; a screenshot shows it rendered."""

from __future__ import annotations

import io
import shutil

import pytest

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright to run the browser test")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")


def test_paste_score_and_see_the_table(server, tmp_path) -> None:
    from PIL import Image

    _, url = server
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        requests_elsewhere = []
        page.on("request", lambda r: None if r.url.startswith(url) else requests_elsewhere.append(r.url))
        page.goto(url)
        page.wait_for_selector("#model option", state="attached")
        assert "tox21" in page.input_value("#model")
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
        with page.expect_download() as download:
            page.click("#download")
        lines = open(download.value.path()).read().splitlines()
        assert lines[0].startswith("id,smiles,canonical_smiles,NR-AR") and len(lines) == 4
        shot = page.locator("#results").screenshot(path=str(tmp_path / "table.png"))
        browser.close()
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    assert image.width > 600 and image.height > 200
    assert len(image.getcolors(maxcolors=1 << 20)) > 50  # structures, coloured cells and text, not a blank box
    assert requests_elsewhere == []  # works offline: nothing fetched from another origin
