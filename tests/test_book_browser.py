"""The book built from the committed results, read in headless Chromium as a reader would.

Every page is loaded (served over a local HTTP server) in one Chromium session 1,400 px wide; the test
fails on a broken internal link, an image that does not load, a traceback or a warning in an output
cell, an absolute path of the build machine, or a generated page wider than the window. Screenshots
of the landing page, the claims ledger and one chapter are saved in the test's temporary folder.
"""
from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")
WIDTH = 1400
# Pages the build generates: they must fit the window (no horizontal scrolling).
GENERATED = ("intro.html", "profiles.html", "status.html", "claims.html")
# Pages of a results tree that only a GPU can re-execute, with outputs from before the warnings were
# silenced: reported, not failed, until the next GPU session re-runs them (issue 15).
NEEDS_A_GPU = re.compile(r"profiles/gpu/.*performance/benchmark")
# A warning or a traceback printed in an output cell.
NOISE = re.compile(r"Traceback \(most recent call last\)|\b\w*Warning: |^\s*warnings\.warn\(", re.M)

# Loads every page in an iframe of the window's width and reports what a reader would see.
PROBE = """<!doctype html><html><body><pre id="out">pending</pre><script>
const pages = %s, width = %d, generated = %s;
async function check(page) {
  const f = document.createElement("iframe");
  f.style.width = width + "px"; f.style.height = "900px";
  await new Promise(resolve => { f.onload = resolve; f.src = page; document.body.appendChild(f); });
  await new Promise(resolve => setTimeout(resolve, 200));
  const d = f.contentDocument;
  const images = [...d.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
  const wide = !generated.includes(page) ? [] :
    [d.documentElement, ...d.querySelectorAll("article table, article .pst-scrollable-table-container")]
      .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.tagName + "." + e.className + " " + e.scrollWidth);
  f.remove();
  return {page, images, wide};
}
(async () => {
  const out = [];
  for (const page of pages) out.push(await check(page));
  document.getElementById("out").textContent = JSON.stringify(out);
})();
</script></body></html>"""


def chromium(*args: str, timeout: int = 60) -> str:
    """One headless Chromium run with a profile of its own (no instance shares it); its stdout."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="maskedav-chromium-") as profile:
        proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},2000",
                               *args], capture_output=True, text=True, timeout=timeout)
    return proc.stdout


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    from maskedav.book.build import build

    out = tmp_path_factory.mktemp("book")
    html = build(output_dir=out).parent
    pages = sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                   if "_static" not in p.relative_to(html).parts and p.name not in ("genindex.html", "search.html"))
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield html, pages, f"http://127.0.0.1:{server.server_port}", out
    server.shutdown()


@pytest.fixture(scope="module")
def seen(book):
    """What Chromium saw on every page: images that did not load, generated pages wider than the window."""
    html, pages, url, _ = book
    (html / "_probe.html").write_text(PROBE % (json.dumps(pages), WIDTH, json.dumps(list(GENERATED))))
    dom = chromium("--virtual-time-budget=60000", "--dump-dom", f"{url}/_probe.html", timeout=80)
    match = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert match and match.group(1) != "pending", f"the probe did not finish:\n{dom[-2000:]}"
    import html as html_lib

    return {r["page"]: r for r in json.loads(html_lib.unescape(match.group(1)))}


def _soup(path: Path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(errors="ignore"), "html.parser")


def test_every_page_loads_with_its_images(book, seen):
    _, pages, _, _ = book
    assert set(seen) == set(pages)
    broken = {p: r["images"] for p, r in seen.items() if r["images"]}
    assert not broken, f"images that do not load: {broken}"


def test_generated_pages_fit_the_window(seen):
    wide = {p: seen[p]["wide"] for p in GENERATED if seen[p]["wide"]}
    assert not wide, f"wider than {WIDTH} px (horizontal scrolling): {wide}"


def test_internal_links_resolve(book):
    html, pages, _, _ = book
    ids: dict[Path, set] = {}
    broken = []
    for page in pages:
        path = html / page
        for a in _soup(path).find_all("a", href=True):
            href = a["href"]
            if re.match(r"[a-z]+:", href):
                continue                      # http(s), mailto, javascript: not this book's
            target, _, anchor = href.partition("#")
            dest = (path.parent / target).resolve() if target else path
            if dest.is_dir():
                dest = dest / "index.html"
            if not dest.exists():
                broken.append(f"{page}: {href}")
            elif anchor and dest.suffix == ".html":
                if dest not in ids:
                    ids[dest] = {t["id"] for t in _soup(dest).find_all(id=True)}
                if anchor not in ids[dest]:
                    broken.append(f"{page}: {href} (no #{anchor})")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_output_cells_hold_no_traceback_warning_or_machine_path(book, repo_root):
    html, pages, _, out = book
    machine = re.compile("|".join(re.escape(str(p)) for p in {repo_root, Path.home(), out})
                         + r"|/site-packages/")
    problems: dict[str, set] = {}
    for page in pages:
        soup = _soup(html / page)
        found = {f"{m.group(0).strip()} in an output cell" for cell in soup.select("div.cell_output")
                 for m in NOISE.finditer(cell.get_text())}
        found |= {f"the build machine's path {m.group(0)}" for m in machine.finditer(soup.get_text())}
        if found and NEEDS_A_GPU.search(page):
            print(f"{page}: needs a GPU to re-execute: {'; '.join(sorted(found))}")
        elif found:
            problems[page] = found
    assert not problems, (f"{len(problems)} page(s) to re-execute or fix:\n"
                          + "\n".join(f"{p}: {'; '.join(sorted(f))}" for p, f in sorted(problems.items())))


def test_screenshots_of_the_landing_page_the_ledger_and_a_chapter(book, tmp_path):
    html, pages, url, _ = book
    chapter = next(p for p in pages if p.startswith("notebooks/"))
    shots = {}
    for name, page in (("landing", "index.html"), ("claims", "claims.html"), ("chapter", chapter)):
        shots[name] = tmp_path / f"{name}.png"
        chromium("--virtual-time-budget=5000", f"--screenshot={shots[name]}", f"{url}/{page}")
    for name, path in shots.items():
        assert path.exists() and path.stat().st_size > 10_000, f"no screenshot of the {name} page"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshots in {tmp_path}")
