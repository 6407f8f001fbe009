"""report.html in a real browser (Debian's chromium): no console errors, every plot
decoded, the verdict readable with no emoji font, a working table of contents, and a
printable page."""

from __future__ import annotations

import re
from pathlib import Path

from analysis.load import load_group
from analysis.report import write_report
from analysis.summarize import summarize
from tests.utils.browser import browser_page, screenshot
from tests.utils.synth import MakeRun

EMOJI = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff]")
VERDICTS = {"worse", "better", "negligible", "no detectable change", "inconclusive"}


def test_report_html_in_a_browser(tmp_path: Path, baselines: dict[str, Path]) -> None:
    from analysis.compare import compare

    c = compare(load_group(baselines["legacy"]), load_group(baselines["canonical"]))
    _, page_path = write_report(c, tmp_path / "report")
    with browser_page() as browsed:
        page = browsed.page
        page.goto(page_path.resolve().as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "[...document.images].map(i => ({w: i.naturalWidth, h: i.naturalHeight, alt: i.alt}))"
        )
        assert len(images) >= 4
        for img in images:
            assert img["w"] > 0 and img["h"] > 0, img  # decoded, not a broken image
            assert len(img["alt"]) > 30, img  # a description, not just a caption
        # the verdict, as text: a badge with a word, visible, and no emoji anywhere
        badge = page.locator(".headline .badge")
        assert badge.is_visible()
        assert badge.inner_text() in VERDICTS, badge.inner_text()
        assert badge.bounding_box()["width"] > 20  # rendered glyphs, not an empty box
        body = page.inner_text("body")
        assert not EMOJI.search(body), EMOJI.findall(body)
        cells = page.locator("td .badge").all_inner_texts()
        assert cells and set(cells) <= {v for v in VERDICTS} | {
            t for t in cells if t.startswith("inconclusive (")
        }
        # every entry of the table of contents leads to a section
        links = page.locator("nav a").evaluate_all("as => as.map(a => a.hash.slice(1))")
        assert len(links) >= 6
        for anchor in links:
            assert page.locator(f"section#{anchor}").count() == 1, anchor
        screenshot(page, tmp_path / "report.png")
        # printed: the contents list is left out, the figures and tables stay
        page.emulate_media(media="print")
        assert page.locator("nav").evaluate("n => getComputedStyle(n).display") == "none"
        pdf = page.pdf(path=str(tmp_path / "report.pdf"))
        assert len(pdf) > 50_000
        assert not browsed.console_errors, browsed.console_errors


def test_a_single_run_report_in_a_browser(tmp_path: Path, make_run: MakeRun) -> None:
    run = make_run("one", seed=1, isolation_violations=2)
    _, page_path = write_report(summarize(load_group(run)), tmp_path / "report")
    with browser_page() as browsed:
        page = browsed.page
        page.goto(page_path.resolve().as_uri())
        widths = page.evaluate("[...document.images].map(i => i.naturalWidth)")
        assert len(widths) >= 4 and all(w > 0 for w in widths)
        assert "isolation violations" in page.inner_text("body")
        screenshot(page, tmp_path / "summary.png")
        assert not browsed.console_errors, browsed.console_errors
