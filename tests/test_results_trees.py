"""Results trees (issue 11, A): one profile per tree, smoke outside the repository, one runner per
tree, atomic writes by the Recorder, and the book naming the tree of every part."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_book_runner import write_nb

from maskedav import trees
from maskedav.book.runner import run_book
from maskedav.trees import TreeError


@pytest.fixture()
def clean_env(monkeypatch, tmp_path):
    """No explicit results tree from the environment; a scratch folder of the test's own."""
    monkeypatch.delenv("MASKEDAV_RESULTS", raising=False)
    monkeypatch.setenv(trees.SCRATCH_ENV, str(tmp_path / "scratch"))
    return tmp_path / "scratch"


@pytest.fixture()
def one_notebook(tmp_path):
    nbs = tmp_path / "notebooks"
    write_nb(nbs / "data", "only_one")
    return nbs


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------------------------
# where each profile's tree is


def test_default_trees_smoke_is_outside_the_repository(clean_env, repo_root, monkeypatch, tmp_path):
    main = repo_root / "results"
    assert trees.default_tree("smoke") == clean_env / "results-smoke"
    monkeypatch.delenv(trees.SCRATCH_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert trees.default_tree("smoke") == (tmp_path / "xdg" / "maskedav" / "results-smoke").resolve()
    monkeypatch.delenv("XDG_CACHE_HOME")
    smoke = trees.default_tree("smoke")
    assert not smoke.is_relative_to(repo_root), smoke     # ~/.cache/maskedav/results-smoke
    assert trees.default_tree("cpu") == main
    assert trees.default_tree("gpu") == main / "profiles" / "gpu"
    assert trees.default_tree("paper") == main / "profiles" / "paper"
    # the book that shows a profile's run
    assert trees.book_tree("gpu") == main and trees.book_tree("cpu") == main
    assert trees.book_tree("smoke") == smoke
    # $MASKEDAV_RESULTS names a tree explicitly (still checked against its marker)
    monkeypatch.setenv("MASKEDAV_RESULTS", str(tmp_path / "explicit"))
    assert trees.default_tree("smoke") == (tmp_path / "explicit").resolve()


def test_committed_trees_are_marked_with_the_profile_of_their_records(repo_root):
    """results/ holds the cpu run, results/profiles/gpu/ the gpu run: their markers agree with every
    provenance record, run record and claims row in them."""
    main = repo_root / "results"
    assert trees.read_marker(main) == "cpu"
    assert trees.recorded_profiles(main) == {"cpu"}
    gpu = main / "profiles" / "gpu"
    assert trees.read_marker(gpu) == "gpu"
    assert trees.recorded_profiles(gpu) == {"gpu"}
    for tree in (main, *sorted((main / "profiles").iterdir())):
        if tree.is_dir():
            assert trees.read_marker(tree), f"{tree} has no PROFILE marker"


def test_smoke_run_with_default_arguments_leaves_results_untouched(clean_env, one_notebook, repo_root):
    before = snapshot(repo_root / "results")
    out = run_book("smoke", notebooks_dir=one_notebook, progress_bar=False, log=lambda *_: None)
    assert [(r.notebook, r.status) for r in out] == [("data/only_one", "ok")], out
    assert snapshot(repo_root / "results") == before
    tree = clean_env / "results-smoke"
    assert trees.read_marker(tree) == "smoke"
    assert (tree / "toy" / "only_one.csv").exists()
    assert json.loads((tree / "toy" / "only_one.json").read_text())["profile"] == "smoke"
    assert (tree / "notebooks" / "data" / "only_one.run.json").exists()
    assert not list(tree.rglob(".*.tmp"))


# ----------------------------------------------------------------------------------------------
# one profile per tree


def test_a_tree_takes_one_profile_only(tmp_path, one_notebook):
    tree = tmp_path / "cpu-tree"
    trees.claim_tree(tree, "cpu")
    assert (tree / "PROFILE").read_text() == "cpu\n"
    trees.claim_tree(tree, "cpu")                       # idempotent
    with pytest.raises(TreeError, match="holds the cpu profile"):
        trees.claim_tree(tree, "smoke")
    # the runner refuses before running or touching anything
    before = snapshot(tree)
    with pytest.raises(TreeError, match="refusing to write smoke results"):
        run_book("smoke", results_dir=tree, notebooks_dir=one_notebook, log=lambda *_: None)
    assert snapshot(tree) == before
    # the Recorder (a notebook run by hand) refuses too
    from maskedav.results import Recorder

    with pytest.raises(TreeError):
        Recorder("toy", profile="smoke", results_dir=tree)
    Recorder("toy", profile="cpu", results_dir=tree)

    # a tree without a marker that holds another profile's records is refused, and not marked
    old = tmp_path / "old-tree"
    (old / "toy").mkdir(parents=True)
    (old / "toy" / "t.json").write_text(json.dumps({"profile": "cpu"}))
    with pytest.raises(TreeError, match="already holds results of profile cpu"):
        trees.claim_tree(old, "gpu")
    assert trees.read_marker(old) is None
    assert trees.claim_tree(old, "cpu") and trees.read_marker(old) == "cpu"
    # claims.csv rows count as records
    rows = tmp_path / "rows"
    rows.mkdir()
    (rows / "claims.csv").write_text("paper,claim_id,profile\nmvd,E1,smoke\n")
    with pytest.raises(TreeError):
        trees.claim_tree(rows, "cpu")
    # <main>/profiles/<name>/ takes the profile <name> only
    main = tmp_path / "main"
    trees.claim_tree(main, "cpu")
    with pytest.raises(TreeError, match="tree of the gpu profile"):
        trees.claim_tree(main / "profiles" / "gpu", "paper")
    assert not (main / "profiles" / "gpu").exists()
    trees.claim_tree(main / "profiles" / "gpu", "gpu")


def test_cli_refuses_another_profiles_tree_in_one_line(tmp_path, one_notebook):
    tree = tmp_path / "tree"
    trees.claim_tree(tree, "cpu")
    proc = subprocess.run([sys.executable, "-m", "maskedav.book", "run", "--profile", "smoke",
                           "--results-dir", str(tree), "--notebooks-dir", str(one_notebook)],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "holds the cpu profile" in proc.stderr
    assert sorted(p.name for p in tree.iterdir()) == ["PROFILE"]


# ----------------------------------------------------------------------------------------------
# one runner per tree


def test_second_runner_on_a_tree_is_refused(tmp_path, one_notebook):
    tree = tmp_path / "tree"
    with trees.runner_lock(tree):
        with pytest.raises(TreeError, match="another runner is working on"):
            run_book("smoke", results_dir=tree, notebooks_dir=one_notebook, log=lambda *_: None)
        with pytest.raises(TreeError):
            with trees.runner_lock(tree):
                pass
        proc = subprocess.run([sys.executable, "-m", "maskedav.book", "run", "--profile", "smoke",
                               "--results-dir", str(tree), "--notebooks-dir", str(one_notebook)],
                              capture_output=True, text=True)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "another runner is working on" in proc.stderr and f"pid {os.getpid()}" in proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert not (tree / "notebooks").exists()
    with trees.runner_lock(tree):       # released with the block
        pass


def test_lock_and_temporary_files_are_git_ignored(repo_root):
    paths = ["results/.runner.lock", "results/profiles/gpu/.runner.lock",
             "results/profiles/gpu/claims.csv.lock", "results/mvd/.fig1.png.123.abcd1234.tmp"]
    proc = subprocess.run(["git", "check-ignore", *paths], cwd=repo_root, capture_output=True, text=True)
    if proc.returncode == 128:
        pytest.skip("not a git checkout")
    assert proc.stdout.split() == paths


# ----------------------------------------------------------------------------------------------
# atomic writes


def test_recorder_writes_atomically(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from maskedav.results import Recorder

    rec = Recorder("toy", profile="smoke", results_dir=tmp_path)
    rec.table(pd.DataFrame({"a": [1.0]}), "t", seeds=[0])
    fig = plt.figure()
    rec.figure(fig, "f", seeds=[0], svg=True)
    folder = tmp_path / "toy"
    good = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(good) == {"t.csv", "t.md", "t.json", "f.png", "f.svg", "f.json"}

    def partial_then_fail(self_or_fig, path, *args, **kwargs):
        Path(path).write_text("partial")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", partial_then_fail)
    with pytest.raises(OSError, match="disk full"):
        rec.table(pd.DataFrame({"a": [2.0]}), "t", seeds=[0])
    monkeypatch.setattr(fig, "savefig", lambda path, *a, **k: partial_then_fail(None, path))
    with pytest.raises(OSError, match="disk full"):
        rec.figure(fig, "f", seeds=[0])
    with pytest.raises(OSError, match="disk full"):
        rec.figure(fig, "new_figure", seeds=[0])
    # the previous files are intact, a new one is not there, and no temporary file is left
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == good
    plt.close(fig)

    with pytest.raises(RuntimeError):
        with trees.atomic_path(tmp_path / "x.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["PROFILE", "toy"]


# ----------------------------------------------------------------------------------------------
# the book names the tree of every part


def test_book_labels_parts_with_the_profile_of_their_tree(tmp_path):
    import yaml

    from maskedav.book.build import stage

    nbs = tmp_path / "notebooks"
    write_nb(nbs / "mvd", "independent")
    results = tmp_path / "results"
    trees.claim_tree(results, "paper")            # the main tree's label comes from its marker
    ipynb = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    for tree, device in ((results, {"cpu": "Toy CPU"}), (results / "profiles" / "h100", {"gpu": "Toy GPU"})):
        nb = tree / "notebooks" / "mvd"
        nb.mkdir(parents=True, exist_ok=True)
        (nb / "independent.ipynb").write_text(ipynb)
        (nb / "independent.run.json").write_text(json.dumps({"status": "ok", "device": device}))
    (results / "profiles" / "h100" / "PROFILE").write_text("gpu\n")
    (results / "toy").mkdir()
    (results / "toy" / ".t.csv.1.ab.tmp").write_text("partial")
    staged = stage(results, tmp_path / "stage", nbs)
    toc = yaml.safe_load((staged / "_toc.yml").read_text())
    captions = [p["caption"] for p in toc["parts"]]
    assert "MVD: masked video distillation (paper profile)" in captions
    other = [c for c in captions if c.startswith("Runs at the gpu profile")]
    assert len(other) == 1 and "Toy GPU" in other[0] and "profiles/h100/" in other[0]
    status = (staged / "status.md").read_text()
    lines = {line.split("|")[1].strip(): line for line in status.splitlines() if line.startswith("| `")}
    assert "| paper " in lines[f"`{results}/`"]
    assert "| gpu " in lines[f"`{results}/profiles/h100/`"]
    assert not (staged / "results" / "toy" / ".t.csv.1.ab.tmp").exists()


def test_injected_results_dir_is_repository_relative(tmp_path):
    from maskedav.book.runner import display_results_dir
    from maskedav.paths import repo_root, results_root

    inside = repo_root() / "results" / "profiles" / "gpu"
    assert display_results_dir(inside) == "results/profiles/gpu"          # no machine path in the page
    assert results_root("results/profiles/gpu") == inside.resolve()       # and it resolves back
    assert display_results_dir(tmp_path) == str(tmp_path.resolve())       # outside: absolute
