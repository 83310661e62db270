"""The demo's HTML report in a real headless browser: Debian's chromium, driven by playwright.

Never downloads a browser: it launches ``/usr/bin/chromium`` (``.ci/run`` installs Debian's package
when it is missing) and skips, saying why, where there is none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from targetsms_analytics.demo import run_demo

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out, echo=lambda _line: None, progress=False)


def test_the_report_loads_cleanly_in_chromium(report_page, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(report_page.as_uri(), wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
            )
            tables = page.locator("table").count()
            headline = page.locator("table.headline th").all_inner_texts()
            text = page.locator("body").inner_text()
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert problems == []
    assert len(images) >= 8
    undecoded = [alt for alt, complete, width in images if not complete or width <= 0]
    assert undecoded == []
    assert tables >= 8
    assert headline[:3] == ["sent", "delivered", "failed"]
    for section in ("Delivery by operator", "Failures by operator", "Spend reconciled", "Glossary"):
        assert section in text
    # one currency sign, one script for operator names, times with their zone
    assert "RUR" not in text and "RUB" not in text and "₽" in text
    assert not {"MTS", "MegaFon", "Beeline", "BeeLine", "Tele2"} & set(text.split())
    assert "MSK" in text
    assert shot.stat().st_size > 50_000 and shot.read_bytes()[:4] == b"\x89PNG"
