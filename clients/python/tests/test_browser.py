"""A real browser (headless Chromium) loads the web page from the running cluster, runs a search
by a stored image and shows k result images with their distances."""

import html.parser
import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Grid(html.parser.HTMLParser):
    """The page's result grid: each figure.hit with its data and whether it holds a loaded image."""

    def __init__(self):
        super().__init__()
        self.hits, self.inside = [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure" and "hit" in (attrs.get("class") or "").split():
            self.hits.append({"id": int(attrs["data-id"]), "distance": float(attrs["data-distance"]), "image": None})
            self.inside = True
        elif tag == "img" and self.inside:
            self.hits[-1]["image"] = attrs.get("src")

    def handle_endtag(self, tag):
        if tag == "figure":
            self.inside = False


def browse(cluster, fragment, *extra):
    assert CHROMIUM, "chromium is needed for the browser test: scripts/setup installs it"
    profile = cluster["work"] / "chromium-profile"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
               "--virtual-time-budget=15000", "--window-size=1280,860", *extra, f"{cluster['http']}/#{fragment}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_page_searches_and_shows_k_images(cluster):
    k, query = 8, 42
    fragment = f"token={cluster['read_token']}&k={k}&refine=4&query={query}"
    grid = Grid()
    grid.feed(browse(cluster, fragment, "--dump-dom").stdout)
    assert len(grid.hits) == k
    assert grid.hits[0]["id"] == query and grid.hits[0]["distance"] == 0
    distances = [hit["distance"] for hit in grid.hits]
    assert distances == sorted(distances) and all(d >= 0 for d in distances)
    assert all(hit["image"] and hit["image"].startswith("blob:") for hit in grid.hits)
    screenshot = cluster["work"] / "page.png"
    browse(cluster, fragment, f"--screenshot={screenshot}")
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000
    # SIGHTLINE_SCREENSHOT=docs/web-page.png keeps it (the README shows it).
    if os.environ.get("SIGHTLINE_SCREENSHOT"):
        Path(os.environ["SIGHTLINE_SCREENSHOT"]).write_bytes(data)


def test_page_with_a_wrong_token_says_so(cluster):
    dom = browse(cluster, "token=wrong&query=1", "--dump-dom").stdout
    grid = Grid()
    grid.feed(dom)
    assert grid.hits == []
    assert "UNAUTHORIZED" in dom
