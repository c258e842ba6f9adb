"""report.html is one self-contained file with the plots, and it renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import make_curriculum_build

from pipeline.store import publish_version

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    items, rejects, documents, info = make_curriculum_build(gasp=True)
    return Path(publish_version(str(root), "toy", items, rejects, info, documents=documents).path) / "report.html"


def test_report_is_self_contained_with_every_plot(report):
    html = report.read_text()
    images = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert len(images) == 5  # calibration, answer types, majority fraction, rejections, one GASP ladder
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from elsewhere
    for heading in ("Calibration", "Answer types", "Label confidence", "Rejections", "GASP ladders"):
        assert f"<h2>{heading}</h2>" in html


def test_report_without_goalposts_or_rejections_has_no_ladder_section(tmp_path):
    items, _, documents, info = make_curriculum_build()
    ref = publish_version(str(tmp_path), "toy", items, [], info, documents=documents)
    html = (Path(ref.path) / "report.html").read_text()
    assert "GASP ladders" not in html and "No rejections." in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    screenshot = tmp_path / "report.png"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1100,1800", f"--screenshot={screenshot}", report.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[:2] == (1800, 1100)
    # a blank or error page is one or two colours; text plus plots give many
    assert len({tuple(p) for p in pixels[::7, ::7, :3].reshape(-1, 3).round(2).tolist()}) > 50
