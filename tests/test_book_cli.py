"""The book's command line and the Makefile (issue 11, B): usage errors are one line and exit 2,
chapter names accept hyphens and underscores, `make reproduce` does not build after a usage error,
`make lab` can start as root."""
import os
import shutil
import stat
import subprocess
import sys

import pytest

from maskedav.book.__main__ import ONLY_EXAMPLES
from maskedav.paths import notebooks_root as _notebooks_root
from maskedav.book.registry import SelectionError, discover, execution_order, select


NOTEBOOKS = _notebooks_root()


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "maskedav.book", *args], capture_output=True, text=True,
                          **kw)


def assert_usage_error(proc, *needles, one_line=True):
    """Exit status 2, no traceback, the error on one line (after argparse's usage lines if not ``one_line``)."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out, out
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 or not one_line, proc.stderr
    for n in needles:
        assert n in lines[-1], (n, proc.stderr)


@pytest.fixture(scope="module")
def book_notebooks():
    return discover()


def test_unknown_only_is_a_one_line_error_listing_the_chapters():
    proc = cli("run", "--only", "nosuchchapter")
    assert_usage_error(proc, "unknown chapter or notebook 'nosuchchapter'", "mvd", "av-maskenhancer",
                       "data")


def test_chapter_without_notebooks_is_reported_as_such(book_notebooks, tmp_path):
    # every chapter has notebooks now: a copy of the notebooks without KDC-MAE's stands for a chapter that has none
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, notebooks, ignore=shutil.ignore_patterns("kdc_mae", "*.ipynb", "__pycache__"))
    proc = cli("run", "--only", "mvd,kdc-mae", "--notebooks-dir", str(notebooks))
    assert_usage_error(proc, "chapter kdc-mae has no notebooks yet")
    without = {k: nb for k, nb in book_notebooks.items() if nb.paper != "kdc-mae"}
    for spelled in ("kdc-mae", "kdc_mae"):
        with pytest.raises(SelectionError, match="chapter kdc-mae has no notebooks yet"):
            select(without, [spelled])


def test_help_examples_name_notebooks(book_notebooks):
    proc = cli("run", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for example in ONLY_EXAMPLES:
        assert example in text, example
        assert select(book_notebooks, [example]), example
    assert "kdc-mae" not in text  # a chapter with no notebooks yet is no example


def test_hyphens_and_underscores_are_both_accepted(book_notebooks):
    ids = lambda only: [nb.id for nb in execution_order(book_notebooks, only)]  # noqa: E731
    assert ids(["av_maskenhancer"]) == ids(["av-maskenhancer"]) == ids(["AV-MaskEnhancer/"])
    assert any(i.startswith("av_maskenhancer/") for i in ids(["av-maskenhancer"]))
    assert select(book_notebooks, ["baselines/cav-mae"]) == select(book_notebooks, ["baselines/cav_mae"]) \
        == {"baselines/cav_mae"}


def test_bad_arguments_exit_2():
    assert_usage_error(cli("run", "--profile", "bogus"), "invalid choice: 'bogus'", one_line=False)
    assert_usage_error(cli("run", "--without-needs"), "--without-needs needs --only", one_line=False)


# ----------------------------------------------------------------------------------------------
# Makefile


@pytest.fixture()
def make_env(tmp_path, repo_root):
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    stamp = tmp_path / "stamp"   # newer than pyproject.toml: `install` has nothing to do
    stamp.touch()
    return ["make", "-s", "-C", str(repo_root), f"STAMP={stamp}"]


def fake_python(tmp_path, run_status: int):
    """A stand-in for .venv/bin/python that logs its arguments and ends `run` with ``run_status``."""
    log = tmp_path / f"log{run_status}"
    py = tmp_path / f"py{run_status}"
    py.write_text(f'#!/bin/sh\necho "$*" >> {log}\ncase "$*" in *" run"*) exit {run_status};; esac\nexit 0\n')
    py.chmod(py.stat().st_mode | stat.S_IEXEC)
    return py, log


@pytest.mark.parametrize("run_status,builds", [(0, True), (1, True), (2, False)])
def test_make_reproduce_builds_unless_the_run_was_a_usage_error(make_env, tmp_path, run_status, builds):
    py, log = fake_python(tmp_path, run_status)
    proc = subprocess.run([*make_env, "reproduce", f"PY={py}", "PROFILE=smoke"], capture_output=True, text=True)
    assert proc.returncode == (run_status and 2), proc.stdout + proc.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "-m maskedav.book run --profile smoke"
    assert calls[1:] == (["-m maskedav.book build --profile smoke"] if builds else [])


def test_make_reproduce_with_a_bogus_profile_stops_before_the_build(make_env):
    proc = subprocess.run([*make_env, "reproduce", f"PY={sys.executable}", "PROFILE=bogus"],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "invalid choice: 'bogus'" in proc.stderr
    assert "book:" not in proc.stdout


def test_make_lab_takes_lab_args(make_env):
    dry = lambda *a: subprocess.run([*make_env, "-n", "lab", *a], capture_output=True,  # noqa: E731
                                    text=True).stdout.splitlines()[-1]
    assert dry("LAB_ARGS=--port 8899").endswith("jupyter lab --port 8899 notebooks")
    default = dry()
    if os.getuid() == 0:
        assert "--allow-root" in default
    else:
        assert "--allow-root" not in default


def test_timings_records_a_run_and_refuses_one_that_does_not_say_what_the_cache_held(tmp_path):
    import json

    assert_usage_error(cli("timings", "--results-dir", str(tmp_path)), "holds no run record")
    rec = tmp_path / "notebooks" / "mvd" / "gate.run.json"
    rec.parent.mkdir(parents=True)
    rec.write_text(json.dumps({"notebook": "mvd/gate", "status": "ok", "duration_s": 120.0,
                               "started_at": "2026-12-06T00:00:00+00:00", "device": {"cpu": "x", "cpu_count": 2}}))
    assert_usage_error(cli("timings", "--results-dir", str(tmp_path)), "cache_state")
    proc = cli("timings", "--results-dir", str(tmp_path), "--cache-state", "empty")
    assert proc.returncode == 0, proc.stderr
    assert "mvd" in proc.stdout and len(list((tmp_path / "performance" / "book_runs").glob("*-unknown.json"))) == 1
