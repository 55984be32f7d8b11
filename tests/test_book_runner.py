"""The runner: dependency order, cache and its invalidation, failure isolation, provenance."""
import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from maskedav.book.registry import cache_key, discover, execution_order
from maskedav.book.runner import run_book
from maskedav.paths import PACKAGE_DIR

HEADER = """# ---
# jupyter:
#   maskedav:
#     needs: {needs}
#     order: {order}
# ---
"""

WRITER = """
# %% [markdown]
# # {title}

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import pandas as pd
from maskedav.results import Recorder
from maskedav.profiles import get_profile
P = get_profile(profile)
rec = Recorder("{paper}", profile=profile, results_dir=results_dir, parameters=dict(profile=profile))
rec.table(pd.DataFrame({{"seed": P.seed_list, "value": [1.0] * P.seeds}}), "{artifact}", seeds=P.seed_list)
{extra}
"""


def write_nb(folder: Path, name: str, needs=(), order=0, paper="toy", artifact=None, extra=""):
    folder.mkdir(parents=True, exist_ok=True)
    text = HEADER.format(needs=json.dumps(list(needs)), order=order) + WRITER.format(
        title=name, paper=paper, artifact=artifact or name, extra=extra)
    (folder / f"{name}.py").write_text(text)


@pytest.fixture()
def toy_book(tmp_path):
    nbs = tmp_path / "notebooks"
    # z_teacher sorts last by name but is needed by a_student: order must follow the dependency.
    write_nb(nbs / "data", "z_teacher", order=0, extra=(
        "from maskedav.checkpoints import save_checkpoint\n"
        "save_checkpoint('toy/teacher', {'w': 1}, profile=profile)"))
    write_nb(nbs / "data", "a_student", needs=["data/z_teacher"], order=0)
    write_nb(nbs / "mvd", "broken", extra="raise RuntimeError('deliberate failure')")
    write_nb(nbs / "mvd", "after_broken", needs=["mvd/broken"])
    write_nb(nbs / "mvd", "independent", order=5)
    lib = tmp_path / "libcopy"
    shutil.copytree(PACKAGE_DIR, lib, ignore=shutil.ignore_patterns("__pycache__"))
    return nbs, lib, tmp_path / "results"


def test_dependency_order_and_cycles(toy_book):
    nbs, _, _ = toy_book
    found = discover(nbs)
    order = [nb.id for nb in execution_order(found)]
    assert order.index("data/z_teacher") < order.index("data/a_student")
    assert order.index("mvd/broken") < order.index("mvd/after_broken")
    assert [nb.id for nb in execution_order(found, only=["data/a_student"])] == [
        "data/z_teacher", "data/a_student"]
    write_nb(nbs / "data", "z_teacher", needs=["data/a_student"])
    with pytest.raises(ValueError, match="cycle"):
        execution_order(discover(nbs))


def test_cache_key_covers_source_library_profile_and_upstream(toy_book, tmp_path):
    nbs, lib, _ = toy_book
    found = discover(nbs)
    student = found["data/a_student"]

    def key(profile="smoke", notebooks=None):
        notebooks = notebooks or discover(nbs)
        return cache_key(notebooks["data/a_student"], notebooks, profile, {"profile": profile},
                         package_dir=lib)

    k0 = key()
    assert key() == k0
    assert key("cpu") != k0
    # results_dir says where outputs go, not what they are
    assert cache_key(student, found, "smoke", {"profile": "smoke", "results_dir": "/x"},
                     package_dir=lib) == k0
    (lib / "unrelated_module.py").write_text("X = 1\n")
    assert key() == k0   # a module the notebook does not import does not invalidate it
    (lib / "provenance.py").write_text((lib / "provenance.py").read_text() + "\n# edited\n")
    k1 = key()
    assert k1 != k0      # one it imports transitively (results -> provenance) does
    teacher = nbs / "data" / "z_teacher.py"
    teacher.write_text(teacher.read_text() + "\n# %%\nprint('changed')\n")
    assert key() != k1  # an upstream edit invalidates the dependent notebook


def test_library_closure_follows_imports_transitively(toy_book):
    from maskedav.book.registry import library_closure, notebook_code

    nbs, lib, _ = toy_book
    closure = {str(p.relative_to(lib)) for p in
               library_closure(notebook_code(nbs / "data" / "a_student.py"), lib)}
    # results imports provenance and paths (relative imports); parents' __init__ always included
    assert {"__init__.py", "results.py", "provenance.py", "paths.py", "profiles.py",
            "manifest.yaml"} <= closure
    assert "losses.py" not in closure and "book/runner.py" not in closure
    closure = {str(p.relative_to(lib)) for p in
               library_closure(["from maskedav.book.runner import run_book"], lib)}
    assert {"book/__init__.py", "book/runner.py", "book/registry.py", "checkpoints.py"} <= closure


@pytest.mark.slow
def test_run_isolation_cache_and_provenance(toy_book):
    nbs, lib, results = toy_book
    logs = []
    out = {r.notebook: r for r in run_book("smoke", results_dir=results, notebooks_dir=nbs,
                                           progress_bar=False, log=logs.append, package_dir=lib)}
    assert out["data/z_teacher"].status == "ok"
    assert out["data/a_student"].status == "ok"
    assert out["mvd/independent"].status == "ok"       # ran although a notebook before it failed
    assert out["mvd/broken"].status == "failed"
    assert "deliberate failure" in out["mvd/broken"].error
    assert out["mvd/after_broken"].status == "blocked"
    assert Path(out["mvd/broken"].output).exists()      # the executed copy is kept for debugging
    assert any("FAILED mvd/broken" in line and "executed copy" in line for line in logs)
    # before: what will run; after: a summary by outcome, the artifacts written
    assert "5 to run, 0 cached; no recorded run" in logs[0]
    summary = "\n".join(logs[logs.index(next(x for x in logs if "done in" in x)):])
    for line in ("run       3: ", "failed    1: mvd/broken", "blocked   1: mvd/after_broken",
                 "artifacts written: toy 4"):
        assert line in summary, (line, summary)

    prov = json.loads((results / "toy" / "a_student.json").read_text())
    for field in ("profile", "parameters", "seeds", "git", "cache_key", "device", "versions",
                  "started_at", "duration_s", "notebook", "files"):
        assert field in prov, field
    assert prov["profile"] == "smoke" and prov["seeds"] == [0, 1]
    assert prov["notebook"] == "data/a_student"
    assert prov["cache_key"] == out["data/a_student"].cache_key
    assert {"commit", "dirty"} <= set(prov["git"])
    assert prov["device"]["cpu"] and prov["versions"]["torch"]
    assert (results / "toy" / "a_student.csv").exists() and (results / "toy" / "a_student.md").exists()
    executed = json.loads((results / "notebooks" / "data" / "a_student.ipynb").read_text())
    assert executed["metadata"]["papermill"]["parameters"]["profile"] == "smoke"
    assert not {"input_path", "output_path"} & set(executed["metadata"]["papermill"])   # no machine paths

    # second run: everything that succeeded is cached
    again = {r.notebook: r.status for r in run_book("smoke", results_dir=results, notebooks_dir=nbs,
                                                    progress_bar=False, log=lambda *_: None,
                                                    package_dir=lib, only=["data"])}
    assert again == {"data/z_teacher": "cached", "data/a_student": "cached"}
    # a checkpoint that has gone from the cache (a fresh clone) makes its writer run again
    rec = json.loads((results / "notebooks" / "data" / "z_teacher.run.json").read_text())
    assert rec["cache_files"] == ["checkpoints/smoke/toy/teacher.pt"]
    # what the cache held at each start: the student began after the teacher's checkpoint was written
    student = json.loads((results / "notebooks" / "data" / "a_student.run.json").read_text())
    assert student["cache_files_at_start"] >= rec["cache_files_at_start"] + 1
    from maskedav.checkpoints import checkpoint_path, load_checkpoint
    assert load_checkpoint("toy/teacher", profile="smoke")["state_dict"] == {"w": 1}
    checkpoint_path("toy/teacher", profile="smoke").unlink()
    logs = []
    again = {r.notebook: r.status for r in run_book("smoke", results_dir=results, notebooks_dir=nbs,
                                                    progress_bar=False, log=logs.append,
                                                    package_dir=lib, only=["data"])}
    assert again == {"data/z_teacher": "ok", "data/a_student": "cached"}
    assert "1 to run, 1 cached; about " in logs[0] and "by the last recorded runs" in logs[0]
    # a library edit invalidates the cache
    (lib / "profiles.py").write_text((lib / "profiles.py").read_text() + "\n# edited\n")
    again = {r.notebook: r.status for r in run_book("smoke", results_dir=results, notebooks_dir=nbs,
                                                    progress_bar=False, log=lambda *_: None,
                                                    package_dir=lib, only=["data"])}
    assert again == {"data/z_teacher": "ok", "data/a_student": "ok"}


@pytest.mark.slow
def test_cli_exit_status_is_nonzero_on_failure(toy_book):
    nbs, _, results = toy_book
    cmd = [sys.executable, "-m", "maskedav.book", "run", "--profile", "smoke", "--only", "mvd",
           "--notebooks-dir", str(nbs), "--results-dir", str(results)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED mvd/broken" in proc.stdout
    for noise in ("without encryption", "KeyboardInterrupt"):    # quiet kernels
        assert noise not in proc.stdout + proc.stderr


def test_stage_shows_other_profile_trees_as_their_own_part(toy_book, tmp_path):
    """A results tree under ``<results>/profiles/<name>/`` (e.g. a gpu run brought back from a lent GPU) is
    staged as a part of its own; a failed run there is not published; its folder is not copied as results."""
    import yaml

    from maskedav.book.build import stage

    nbs, _, results = toy_book
    tree = results / "profiles" / "gpu" / "notebooks" / "mvd"
    tree.mkdir(parents=True)
    for name, status in (("independent", "ok"), ("broken", "failed")):
        (tree / f"{name}.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                        "nbformat_minor": 5}))
        (tree / f"{name}.run.json").write_text(json.dumps({"status": status, "device": {"gpu": "Toy GPU"}}))
    staged = stage(results, tmp_path / "stage", nbs)
    toc = yaml.safe_load((staged / "_toc.yml").read_text())
    gpu_parts = [p for p in toc["parts"] if p["caption"].startswith("Runs at the gpu profile")]
    assert len(gpu_parts) == 1 and "Toy GPU" in gpu_parts[0]["caption"]
    assert gpu_parts[0]["chapters"] == [{"file": "profiles/gpu/notebooks/mvd/independent"}]
    assert (staged / "profiles" / "gpu" / "notebooks" / "mvd" / "independent.ipynb").exists()
    assert not (staged / "results" / "profiles").exists()


def test_without_needs_runs_only_the_named_notebook_and_records_what_it_skipped(toy_book):
    nbs, lib, results = toy_book
    out = run_book("smoke", only=["data/a_student"], results_dir=results, notebooks_dir=nbs, progress_bar=False,
                   log=lambda *_: None, package_dir=lib, without_needs=True)
    assert [(r.notebook, r.status) for r in out] == [("data/a_student", "ok")]
    rec = json.loads((results / "notebooks" / "data" / "a_student.run.json").read_text())
    assert rec["needs_skipped"] == ["data/z_teacher"]
    with pytest.raises(ValueError):
        run_book("smoke", results_dir=results, notebooks_dir=nbs, log=lambda *_: None, without_needs=True)


# What a Jupyter kernel without ipywidgets (the book's) looks like to tqdm.autonotebook; then the imports
# the notebooks make (maskedav first, then timm's huggingface_hub and tqdm.auto), every warning recorded.
_KERNEL_IMPORTS = textwrap.dedent("""
    import sys, types, warnings
    import IPython
    sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as seen:
        {first}
        import huggingface_hub.utils
        from tqdm.auto import tqdm
        list(tqdm(range(3), file=sys.stdout, disable=False))
    print("WARNINGS:", [type(w.message).__name__ + ": " + str(w.message) for w in seen])
""")


@pytest.mark.parametrize("first", ["import maskedav", "pass"])
def test_kernel_imports_emit_no_tqdm_warning(first):
    pytest.importorskip("IPython")
    if first == "pass" and importlib.util.find_spec("ipywidgets") is not None:
        pytest.skip("with ipywidgets there is no warning to reproduce")
    out = subprocess.run([sys.executable, "-c", _KERNEL_IMPORTS.format(first=first)], capture_output=True,
                         text=True, check=True).stdout
    warned = "TqdmWarning: IProgress not found" in out.split("WARNINGS:")[1]
    assert warned == (first == "pass")        # the simulation reproduces the warning, maskedav silences it
