"""The demo's report, opened in headless Chromium: every plot decodes and shows, the page logs no error.

The check itself is tested to fail on a page that has what a report must not (a broken image, a
console error), so a green run means the browser looked. Without Chromium the tests skip, naming
the package that .ci/run installs.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from conveyor_tools import browser
from conveyor_tools.cli import main
from conveyor_tools.demo import report as demo_report
from tests.conftest import FIXTURES

SUMMARY = FIXTURES / "demo" / "summary.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _chromium() -> None:
    try:
        browser.find_browser()
    except browser.BrowserUnavailableError as error:
        pytest.skip(f"needs Debian's chromium package (installed by .ci/run): {error}")


def test_every_plot_of_the_report_decodes_and_shows_and_the_page_logs_no_error(tmp_path: Path) -> None:
    # Given the fixture's report
    page = demo_report.write(json.loads(SUMMARY.read_text(encoding="utf-8")), tmp_path / "report.html")

    # When Chromium opens it
    checked = browser.check_page(page, tmp_path / "report.png")

    # Then its six plots loaded, decoded and take up room, and nothing went wrong
    assert len(checked.images) == 6
    for image in checked.images:
        assert (image.natural_width, image.natural_height) in {(800, 420), (800, 480)}, image.alt
        assert image.complete, image.alt
        assert image.decoded, image.alt
        assert image.visible, image.alt
    assert checked.console_errors == []
    assert checked.exceptions == []
    assert checked.log_errors == []
    assert checked.failed_loads == []
    assert checked.problems == []


def test_the_screenshot_is_a_png_of_the_whole_page(tmp_path: Path) -> None:
    page = demo_report.write(json.loads(SUMMARY.read_text(encoding="utf-8")), tmp_path / "report.html")

    checked = browser.check_page(page, tmp_path / "shots" / "report.png")

    assert checked.screenshot == tmp_path / "shots" / "report.png"
    assert checked.screenshot.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(checked.screenshot) as shot:
        shot.load()
        width, height = shot.size
    # The window is 1280 px wide; the page (six plots of 420-480 px, four tables) is far taller than it
    assert 1000 <= width <= 1400
    assert height > 6 * 420


def test_the_check_reports_a_broken_image_and_a_console_error(tmp_path: Path) -> None:
    # Given a page with an image that does not decode, a script logging an error, and a hidden image
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body>"
        '<img alt="broken" src="data:image/png;base64,AAAA">'
        f'<img alt="hidden" style="display: none" src="data:image/png;base64,{tiny_png()}">'
        '<script>console.error("x")</script>'
        "</body></html>",
        encoding="utf-8",
    )

    # When Chromium opens it
    checked = browser.check_page(page, tmp_path / "broken.png")

    # Then the check names both images and the one console error
    broken, hidden = checked.images
    assert (broken.alt, broken.natural_width, broken.decoded, broken.ok) == ("broken", 0, False, False)
    assert (hidden.alt, hidden.natural_width, hidden.decoded, hidden.visible) == ("hidden", 1, True, False)
    assert checked.console_errors == ["x"]
    assert len(checked.problems) == 3


def test_the_check_reports_an_uncaught_exception_and_a_failed_load(tmp_path: Path) -> None:
    page = tmp_path / "failing.html"
    page.write_text(
        "<!DOCTYPE html><html><body>"
        '<img alt="missing" src="missing.png">'
        '<script>throw new Error("boom")</script>'
        "</body></html>",
        encoding="utf-8",
    )

    checked = browser.check_page(page, tmp_path / "failing.png")

    assert len(checked.exceptions) == 1
    assert "boom" in checked.exceptions[0]
    assert len(checked.failed_loads) == 1
    assert "missing.png" in checked.failed_loads[0]


def test_the_report_command_checks_the_page_and_keeps_its_screenshot(tmp_path: Path) -> None:
    output = tmp_path / "demo" / "report.html"

    assert main(["report", str(SUMMARY), "--output", str(output), "--check"]) == 0

    assert (tmp_path / "demo" / "report.png").read_bytes()[:8] == PNG_SIGNATURE


def test_the_report_command_fails_on_a_page_with_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a report whose page would log an error when opened
    render = demo_report.render
    monkeypatch.setattr(
        demo_report,
        "render",
        lambda summary: render(summary).replace("</body>", "<script>console.error('y')</script></body>"),
    )

    code = main(["report", str(SUMMARY), "--output", str(tmp_path / "report.html"), "--check"])

    assert code == 1
    assert "console error: y" in capsys.readouterr().err


def tiny_png() -> str:
    """A valid 1x1 PNG, base64."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
