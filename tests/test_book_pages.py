"""The book's generated pages: the claims ledger, the profiles table and the intro's account of the build."""
import json
import re

import pytest

from maskedav.claims import VERDICTS, record_claim, verdict


@pytest.fixture()
def ledger_tree(tmp_path):
    """A results tree with claims of two papers, every verdict among them, and the provenance of one
    claim's table (its notebook is staged, so the ledger links it)."""
    results = tmp_path / "results"
    arms = {"reproduced": ([3.0, 3.3, 3.1], [1.0, 1.1, 1.2]), "contradicted": ([1.0, 1.1, 1.2], [3.0, 3.3, 3.1]),
            "inconclusive": ([1.0, 2.0, 3.0], [1.5, 1.0, 3.1]), "untestable": ([3.0, 3.3, 3.1], [1.0, 1.1, 1.2])}
    for i, (expected, (a, b)) in enumerate(arms.items()):
        v = verdict(a, b, "greater", 0.1, 3, paired=True, testable=expected != "untestable")
        record_claim(results, "pa" if i < 2 else "pb", f"C{i}", "table1",
                     f"claim {i}: a beats b, few-label top-1 | on SynthAV", "+1.0 top-1", v, profile="cpu")
    (results / "pa").mkdir()
    (results / "pa" / "table1.json").write_text(json.dumps({"notebook": "mvd/x"}))
    return results


def test_claims_ledger_is_a_scannable_table(ledger_tree, tmp_path):
    from maskedav.book.ledger import FOREST_FIGURE, VERDICT_COLOURS, claims_page

    stage = tmp_path / "stage"
    (stage / "notebooks" / "mvd").mkdir(parents=True)
    (stage / "notebooks" / "mvd" / "x.ipynb").write_text("{}")
    page = claims_page(ledger_tree, stage)
    rows = [line for line in page.splitlines() if line.startswith("| **")]
    assert len(rows) == 4                                          # one row per claim
    from maskedav.claims import read_claims

    assert list(read_claims(ledger_tree).verdict) == list(VERDICTS)
    for row, v in zip(rows, VERDICTS):
        assert len(row.split(" | ")) == 4                          # claim, paper, measured, verdict
        assert VERDICT_COLOURS[v] in row.split(" | ")[-1]         # a coloured badge
    assert "[C0](notebooks/mvd/x.ipynb)" in rows[0]               # linked to the staged notebook
    assert "[C2]" not in rows[2]                                   # no page: no link
    assert "top-1 points" in rows[0] and "3 seeds" in rows[0]
    assert "\\|" in rows[0]                                        # a '|' in a statement does not split the row
    assert page.count("alpha=0.1, Holm within the paper") == 1      # the rule stated once
    assert not re.search(r"\d\.\d{5,}", page), "raw floats in the ledger"
    summary = next(line for line in page.splitlines() if line.startswith("| paper"))
    assert all(v in summary for v in VERDICTS) and "profile" in summary
    assert (stage / FOREST_FIGURE).stat().st_size > 10_000


def test_ledger_shows_the_claims_unit_and_infers_it_for_old_rows(tmp_path):
    from maskedav.book.ledger import all_claims, claims_page
    from maskedav.claims import read_claims

    results = tmp_path / "results"
    v = verdict([3.0, 3.3, 3.1], [1.0, 1.1, 1.2], "greater", 0.1, 3, paired=True)
    record_claim(results, "pa", "C0", "table1", "a beats b on top-1", "+1.0 top-1", v, "cpu", unit="MSE")
    record_claim(results, "pa", "C1", "table1", "a beats b on top-1", "+1.0 top-1", v, "cpu")
    assert list(all_claims(results).unit) == ["MSE", "top-1 points"]       # the field, else the wording
    rows = [line for line in claims_page(results, tmp_path).splitlines() if line.startswith("| **")]
    assert "MSE" in rows[0] and "top-1 points" not in rows[0] and "top-1 points" in rows[1]
    read_claims(results).drop(columns=["unit"]).to_csv(results / "claims.csv", index=False)   # an old ledger
    assert list(all_claims(results).unit) == ["top-1 points", "top-1 points"]


def test_claims_ledger_without_claims(tmp_path):
    from maskedav.book.ledger import claims_page

    assert "No claim has been tested" in claims_page(tmp_path / "results", tmp_path)


@pytest.mark.parametrize("statement, paper_effect, unit", [
    ("AV ends with a lower held-out masked-patch MSE", "-3 % MSE (relative, Fig. 3)", "MSE"),
    ("the relative gain 100·(VideoMAE − AV)/VideoMAE on the sounding object", "qualitative", "% (relative gain)"),
    ("the student beats the teacher on motion", "+0.7 SSv2 top-1", "top-1 points"),
    ("mean off-diagonal cosine similarity", "qualitative", "cosine similarity"),
    ("something else", "", ""),
])
def test_claim_unit_comes_from_the_statement_first(statement, paper_effect, unit):
    from maskedav.book.ledger import claim_unit

    assert claim_unit(statement, paper_effect) == unit


def test_profiles_page_says_what_the_paper_profile_reads():
    from maskedav.book.build import _profiles_page
    from maskedav.profiles import PROFILES

    page = _profiles_page()
    header = next(line for line in page.splitlines() if line.startswith("|"))
    assert all(name in header for name in PROFILES)                 # one column per profile
    assert "your dataset on disk" in page
    assert not re.search(r"\b0 / 0 / 0\b|\b0 x \d", page)


def test_intro_is_generated_from_the_results(tmp_path):
    from maskedav.book.build import stage

    nbs = tmp_path / "notebooks" / "mvd"
    nbs.mkdir(parents=True)
    (nbs / "x.py").write_text("# %% [markdown]\n# # X\n\n# %% tags=[\"parameters\"]\nprofile = 'cpu'\n")
    results = tmp_path / "results"
    (results / "notebooks" / "mvd").mkdir(parents=True)
    (results / "PROFILE").write_text("cpu\n")
    (results / "notebooks" / "mvd" / "x.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (results / "notebooks" / "mvd" / "x.run.json").write_text(
        json.dumps({"status": "ok", "device": {"cpu": "Toy CPU", "cpu_count": 2, "gpu": None}}))
    intro = (stage(results, tmp_path / "stage", tmp_path / "notebooks") / "intro.md").read_text()
    held = intro.split("## What this build holds")[1]
    row = next(line for line in held.splitlines() if line.startswith("| MVD"))
    assert "| cpu " in row and "Toy CPU, 2 cores" in row
    assert re.search(r"\*\*0 of the manifest's \d+ tables and figures\*\*", held)
    assert "Not in this build yet" in held and "XKD" in held and "MVD" not in held.split("Not in this build")[1]


def test_hand_written_intro_makes_no_promise_about_the_build(repo_root):
    text = (repo_root / "book" / "intro.md").read_text()
    for promise in ("regenerates every", "H100", "**`cpu` profile**", "What was tried"):
        assert promise not in text
