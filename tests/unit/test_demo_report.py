"""The demo's report: one HTML page that loads nothing, a plot per thing the demo did, every string escaped."""

from __future__ import annotations

import base64
import copy
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from conveyor_tools.cli import main
from conveyor_tools.demo import report as demo_report
from tests.conftest import FIXTURES

SUMMARY = FIXTURES / "demo" / "summary.json"
IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">')
DATA = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def summary() -> dict[str, Any]:
    """The fixture's summary: 4 models, 3 canaries (2 with timelines), 2 edge releases, 1 drift run, 1 finding."""
    loaded: dict[str, Any] = json.loads(SUMMARY.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def page() -> str:
    """The fixture's report, rendered once for the tests that only read it."""
    return demo_report.render(summary())


def plots(page: str) -> dict[str, Image.Image]:
    """Each inline PNG of the page by its alt text, decoded."""
    return {alt: Image.open(io.BytesIO(base64.b64decode(data))) for data, alt in IMAGE.findall(page)}


def test_every_plot_is_an_inline_png_that_decodes_at_a_readable_size(page: str) -> None:
    # Given the fixture's summary's report (4 models, 2 canaries with timelines, 2 edge releases, 1 drift run)
    # Then there is a plot of the models, of each canary with a timeline, of each edge release and of the drift run
    images = plots(page)
    assert [alt.split(":")[0].split(" over ")[0] for alt in images] == [
        "Models plot",
        "Canary of package 2 (variant p2)",
        "Canary of package 4 (variant p4)",
        "Edge release of component 1.0.0 (package 1)",
        "Edge release of component 1.1.0 (package 2)",
        "Drift in run-000004",
    ]
    for image in images.values():
        image.load()
        assert image.format == "PNG"
        assert image.width >= 600
        assert image.height >= 300


def test_the_canary_without_a_timeline_is_named_in_words_not_plotted(page: str) -> None:
    assert (
        "Canary of package 1 (variant p1): first release, nothing to judge against; no timeline was recorded." in page
    )


def test_a_rollback_names_the_seconds_from_alarm_to_weight_zero(page: str) -> None:
    assert "rolled back: its weight was 0 12.5 s after the alarm" in page


def test_the_tables_list_every_step_execution_model_and_finding(page: str) -> None:
    rows = re.findall(r"<tr[^>]*><td", page)
    assert len(rows) == 9 + 9 + 4 + 1
    assert "<td>Drift: a recalibrated sensor retrains on 600 rows</td>" in page
    assert "<td>arn:aws:iam::123456789012:user/mallory</td>" in page
    assert "beats the champion&#x27;s 0.908 on the same test rows" in page


def test_a_failed_step_is_marked() -> None:
    given = summary()
    given["steps"][6]["ok"] = False

    page = demo_report.render(given)

    assert "8 of 9 steps as described" in page
    assert page.count('<tr class="failed">') == 1


def test_strings_from_the_summary_are_escaped() -> None:
    # Given a reason, a finding's title and an alt text's source holding markup
    given = summary()
    given["models"][2]["reasons"] = ['<script>alert("reason")</script>']
    given["findings"][0]["title"] = "<b>bold</b> & co"
    given["drift"][0]["run_id"] = 'run-"quoted"'

    page = demo_report.render(given)

    # Then none of it is markup on the page
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;reason&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert 'alt="Drift in run-&quot;quoted&quot; over 600 rows' in page


def test_the_page_loads_nothing_from_anywhere(page: str) -> None:
    # The inline PNGs' base64 may spell anything; what is outside them may name no address
    outside_images = DATA.sub("data:", page).lower()
    assert "http" not in outside_images
    assert "//" not in outside_images
    assert "<script" not in outside_images
    assert "url(" not in outside_images
    assert "@import" not in outside_images
    sources = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page)
    assert len(sources) == 6
    assert all(source.startswith("data:image/png;base64,") for source in sources)


def test_empty_sections_say_so_without_a_plot() -> None:
    # Given a summary with nothing in any list
    given = {"stack": "conveyor-local", "version": "0.1.0", "health": "ok", "seconds": 1.0}
    for name in ("steps", "executions", "models", "canary", "edge", "drift", "findings"):
        given[name] = []

    page = demo_report.render(given)

    assert "<img" not in page
    for things in ("steps", "executions", "models", "canary releases", "edge releases", "drift runs"):
        assert f"No {things} in this summary." in page
    assert "No security findings in this summary." in page


def test_releases_with_empty_timelines_are_described_not_plotted() -> None:
    given = summary()
    for release in (*given["canary"], *given["edge"]):
        release["timeline"] = []

    page = demo_report.render(given)

    assert [alt.split(":")[0] for alt in plots(page)] == ["Models plot", "Drift in run-000004 over 600 rows"]
    assert page.count("no timeline was recorded") == 5


def test_unknown_device_states_and_keys_still_render() -> None:
    # Given a fleet state the report has no colour for, and keys the report does not show
    given = copy.deepcopy(summary())
    given["edge"][0]["timeline"][2]["devices"] = {"MAINTENANCE": 2, "RUNNING": 2}
    given["dataset"] = [["incoming/line-a.csv", 1500]]

    page = demo_report.render(given)

    assert len(plots(page)) == 6


def test_write_makes_the_folder_and_returns_the_page(tmp_path: Path, page: str) -> None:
    written = demo_report.write(summary(), tmp_path / "demo" / "report.html")

    assert written == tmp_path / "demo" / "report.html"
    assert written.read_text(encoding="utf-8") == page


def test_the_report_command_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "report.html"

    assert main(["report", str(SUMMARY), "--output", str(output)]) == 0

    assert len(plots(output.read_text(encoding="utf-8"))) == 6
    assert f"wrote {output}" in capsys.readouterr().err


def test_the_report_command_fails_its_check_without_a_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a PATH with no Chromium or Chrome on it
    monkeypatch.setenv("PATH", str(tmp_path))

    code = main(["report", str(SUMMARY), "--output", str(tmp_path / "report.html"), "--check"])

    # Then the page is written but not passed as checked
    assert code == 1
    assert (tmp_path / "report.html").exists()
    assert "install Debian's chromium package" in capsys.readouterr().err
