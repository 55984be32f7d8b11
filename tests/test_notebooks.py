"""Every notebook: paired, parameterised as the runner expects, and the whole book at `smoke`."""
import ast
import json
from pathlib import Path

import jupytext
import pytest
import yaml

from maskedav.book.registry import discover, execution_order
from maskedav.book.runner import INJECTED_PARAMETERS
from maskedav.paths import manifest_path, notebooks_root
from maskedav.profiles import PROFILES

NOTEBOOKS = sorted(p for p in notebooks_root().glob("*/*.py") if not p.name.startswith("_"))
IDS = [f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_pair_is_in_sync_and_ipynb_has_no_outputs(path):
    twin = path.with_suffix(".ipynb")
    assert twin.exists(), f"{twin} missing: run `make sync`"
    py_nb, ipynb = jupytext.read(path), jupytext.read(twin)
    assert [(c.cell_type, c.source) for c in py_nb.cells] == \
           [(c.cell_type, c.source) for c in ipynb.cells], f"{path} and {twin} differ: `make sync`"
    assert py_nb.metadata.get("maskedav") == ipynb.metadata.get("maskedav")
    raw = json.loads(twin.read_text())
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, \
                f"{twin} is committed with outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_jupyterlab_opens_the_py_with_the_runners_kernel(path):
    """The kernelspec lives in the .ipynb twin, which JupyterLab's jupytext reads with the .py (`make sync`
    sets it); the .py header keeps only the maskedav block, so the kernelspec never enters a cache key."""
    from maskedav.book.runner import KERNEL_NAME

    kernelspec = json.loads(path.with_suffix(".ipynb").read_text())["metadata"].get("kernelspec", {})
    assert kernelspec.get("name") == KERNEL_NAME, f"{path}: no kernelspec in its .ipynb twin: `make sync`"
    assert "kernelspec" not in path.read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_cell_defines_every_injected_parameter(path):
    nb = jupytext.read(path)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path}: needs exactly one cell tagged 'parameters'"
    assigned = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned[target.id] = node.value
    missing = set(INJECTED_PARAMETERS) - set(assigned)
    assert not missing, f"{path}: parameters cell does not define {sorted(missing)}"
    assert ast.literal_eval(assigned["profile"]) in PROFILES


def test_dependencies_resolve_in_order():
    nbs = discover()
    order = [nb.id for nb in execution_order(nbs)]
    for nb in nbs.values():
        for dep in nb.needs:
            assert order.index(dep) < order.index(nb.id)


def test_manifest_copy_matches_shared(repo_root):
    shared = repo_root.parent / "shared" / "manifest.yaml"
    if not shared.exists():
        pytest.skip("../shared not beside this checkout")
    assert yaml.safe_load(shared.read_text()) == yaml.safe_load(manifest_path().read_text())


@pytest.mark.slow
def test_every_notebook_runs_at_smoke(smoke_book):
    results, outcomes, durations = smoke_book
    failed = {k: v.error for k, v in outcomes.items() if v.status != "ok"}
    assert not failed, failed
    assert set(outcomes) == set(IDS)
    slow = {k: round(d, 1) for k, d in durations.items() if d > 60}
    assert not slow, f"smoke budget is 60 s per notebook: {slow}"
    # every artifact a notebook wrote has its provenance, naming the smoke profile
    provs = [p for p in results.glob("*/*.json")]
    assert provs
    for p in provs:
        rec = json.loads(p.read_text())
        assert rec["profile"] == "smoke" and rec["cache_key"], p
        for f in rec["files"]:
            assert (results / f).exists(), f


@pytest.mark.slow
def test_smoke_run_writes_every_manifest_artifact_of_each_chapter_it_has(smoke_book):
    """A paper with notebooks regenerates all of its manifest artifacts (at smoke, with current provenance)."""
    from maskedav.book.registry import discover
    from maskedav.book.status import artifact_status

    results, _, _ = smoke_book
    papers = {nb.paper for nb in discover().values()}
    rows = [r for r in artifact_status(results) if r["paper"] in papers]
    assert rows
    missing = [f"{r['paper']}/{r['id']}: {r['status']}" for r in rows if r["status"] != "present"]
    assert not missing, missing


@pytest.mark.slow
def test_book_builds_from_smoke_results(smoke_book, tmp_path_factory):
    from maskedav.book.build import build

    results, outcomes, _ = smoke_book
    out = tmp_path_factory.mktemp("book")
    index = build(results_dir=results, output_dir=out)
    html = index.parent
    for nb_id in outcomes:
        assert (html / "notebooks" / f"{nb_id}.html").exists(), nb_id
    for page in ("intro.html", "status.html", "profiles.html"):
        assert (html / page).exists()
    # every local link of every page of the book resolves (theme assets under _static are templates)
    import re

    for page in html.rglob("*.html"):
        if "_static" in page.relative_to(html).parts:
            continue
        for href in re.findall(r'href="([^"#?]+)', page.read_text(errors="ignore")):
            if href.startswith(("http:", "https:", "mailto:", "javascript:", "data:")):
                continue
            assert (page.parent / href).resolve().exists(), f"{page}: broken link {href}"
