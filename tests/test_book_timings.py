"""What a run of the book costs (per notebook, per chapter) and whether two trees hold the same tables."""
import json
import math

import pandas as pd
import pytest

from maskedav.book.timings import (CHAPTER_BUDGET_MIN, budget_table, chapter_times, compare_tables, describe_budget,
                                   history_table, latest_per_chapter, notebooks_per_chapter, read_record, read_records, run_label, run_times,
                                   write_record)


def _record(tree, nb, seconds, status="ok", cache=None, commit="abc1234def"):
    path = tree / "notebooks" / f"{nb}.run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = {"notebook": nb, "status": status, "duration_s": seconds, "started_at": "2026-12-06T00:00:00+00:00",
           "git": {"commit": commit, "dirty": False}, "device": {"cpu": "x86", "cpu_count": 2, "gpu": None}}
    if cache is not None:
        rec["cache_files_at_start"] = cache
    path.write_text(json.dumps(rec))


def test_chapter_times_sum_notebooks_and_flag_the_budget(tmp_path):
    _record(tmp_path, "mvd/gate", 600)
    _record(tmp_path, "mvd/ablations", 1500)          # 10 + 25 = 35 min: over 30
    _record(tmp_path, "data/tour", 180)
    times = run_times(tmp_path)
    assert sorted(times.notebook) == ["data/tour", "mvd/ablations", "mvd/gate"]
    ch = chapter_times(times).set_index("chapter")
    assert ch.loc["mvd", "notebooks"] == 2 and ch.loc["mvd", "minutes"] == pytest.approx(35.0)
    assert not ch.loc["mvd", "within budget"] and ch.loc["data", "within budget"]
    assert ch.loc["data", "minutes"] == pytest.approx(3.0) and CHAPTER_BUDGET_MIN == 30
    table = budget_table(times, {"mvd": 5, "data": 1}).set_index("chapter")
    assert table.loc["MVD: masked video distillation", "within budget"] == "incomplete run (2 of 5 notebooks)"
    assert table.loc["SynthAV: the book's benchmark", "within budget"] == "yes"
    assert table.loc["the whole run", "minutes"] == pytest.approx(38.0)
    assert notebooks_per_chapter()["mvd"] == 5
    _record(tmp_path, "data/broken", 1, status="failed")
    assert not chapter_times(run_times(tmp_path)).set_index("chapter").loc["data", "all ok"]


def _table(tree, name, df):
    path = tree / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def test_compare_tables_identical_numeric_and_text_differences(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    base = pd.DataFrame({"arm": ["x", "y"], "top1": [50.0, 60.0]})
    for tree in (a, b):
        _table(tree, "mvd/same", base)
    _table(a, "mvd/num", base)
    _table(b, "mvd/num", base.assign(top1=[50.0, 60.25]))
    _table(a, "mvd/text", base)
    _table(b, "mvd/text", base.assign(arm=["x", "z"]))
    _table(a, "mvd/only_in_a", base)
    _table(a, "notebooks/ignored", base)
    _table(b, "notebooks/ignored", base.assign(top1=0))
    cmp = compare_tables(a, b).set_index("table")
    assert list(cmp.index) == ["mvd/num", "mvd/same", "mvd/text"]       # shared tables only
    assert cmp.loc["mvd/same", "identical"] and cmp.loc["mvd/same", "max abs difference"] == 0
    assert not cmp.loc["mvd/num", "identical"]
    assert cmp.loc["mvd/num", "max abs difference"] == pytest.approx(0.25)
    assert cmp.loc["mvd/num", "columns that differ"] == "top1" and cmp.loc["mvd/text", "columns that differ"] == "arm"
    assert math.isnan(cmp.loc["mvd/text", "max abs difference"])         # a text cell differs: no number


def test_write_record_states_the_cache_and_round_trips(tmp_path):
    run, ref = tmp_path / "run", tmp_path / "ref"
    _record(run, "mvd/gate", 60)
    with pytest.raises(ValueError, match="cache_state"):
        write_record(run)                                    # old records do not say what the cache held
    _table(run, "mvd/t", pd.DataFrame({"v": [1.0]}))
    _table(ref, "mvd/t", pd.DataFrame({"v": [1.0]}))
    path = write_record(run, reference=ref, cache_state="empty", note="another job shared the cores")
    rec = read_record(path)
    assert rec["note"] == "another job shared the cores"
    assert path == run / "performance" / "book_runs" / f"{rec['written_at'][:10]}-abc1234.json"
    assert rec["cache_at_start"] == "empty" and rec["times"].minutes.tolist() == [1.0]
    assert rec["tables"].identical.tolist() == [True]
    assert "tmp" not in rec["tree"] and "tmp" not in rec["reference"]   # no machine path in the record
    _record(run, "mvd/gate", 60, cache=0)
    assert read_record(write_record(run))["cache_at_start"] == "0 cache files when the run began"
    assert read_record(tmp_path / "absent.json") is None


def test_history_table_keeps_each_runs_chapters_side_by_side(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    _record(first, "baselines/mae", 600, cache=0, commit="1111111aaa")
    _record(first, "mvd/gate", 1200, cache=0, commit="1111111aaa")         # 1 of 5 MVD notebooks
    _record(second, "baselines/mae", 300, cache=0, commit="2222222bbb")
    _record(second, "av_maskenhancer/pretrain", 900, cache=0, commit="2222222bbb")
    out = tmp_path / "tree"
    p1 = write_record(first, out=out / "performance" / "book_runs" / "a.json")
    p2 = write_record(second, out=out / "performance" / "book_runs" / "b.json")
    recs = read_records(out)
    assert [r["times"].commit.iloc[0] for r in recs] == ["1111111aaa", "2222222bbb"]      # oldest first
    assert run_label(recs[1]) == f"run of {recs[1]['written_at'][:10]}, commit 2222222"
    h = history_table(recs, {"baselines": 1, "mvd": 5, "av_maskenhancer": 1}).set_index("chapter")
    c1, c2 = run_label(recs[0]), run_label(recs[1])
    assert list(h.columns) == [c1, c2, "budget (min)"]
    base = "Baselines: MAE, VideoMAE, AudioMAE, CAV-MAE"
    assert h.index[0] == base and h.loc[base, c1] == "10.0" and h.loc[base, c2] == "5.0"
    mvd = "MVD: masked video distillation"
    assert h.loc[mvd, c1] == "≥ 20.0 (1 of 5 notebooks)" and h.loc[mvd, c2] == "—"
    assert p1.exists() and p2.exists() and read_records(tmp_path / "nothing") == []

    # the latest complete measurement per chapter, else the largest lower bound; unwritten chapters apart
    expected = {"data": 1, "baselines": 1, "mvd": 5, "av_maskenhancer": 1}
    latest = latest_per_chapter(recs, expected).set_index("key")
    assert latest.loc["baselines", "minutes"] == 5.0 and latest.loc["baselines", "complete"]
    assert latest.loc["mvd", "minutes"] == 20.0 and not latest.loc["mvd", "complete"]
    assert math.isnan(latest.loc["data", "minutes"]) and latest.loc["xkd", "notebooks"] == 0
    text = describe_budget(recs, expected)
    assert "Within 30 minutes: Baselines: MAE, VideoMAE, AudioMAE, CAV-MAE (5.0 min), AV-MaskEnhancer" in text
    assert "Measured only in part (a lower bound): MVD: masked video distillation (≥ 20.0 min)" in text
    assert "Not yet run from an empty cache: SynthAV: the book's benchmark." in text
    assert "Not written yet: XKD" in text and "at least 40 minutes" in text and "met so far" in text
    over = describe_budget(read_records(out)[1:], {"baselines": 1, "av_maskenhancer": 1})
    assert "Over: none" in over
    _record(second, "av_maskenhancer/pretrain", 1900, cache=0, commit="2222222bbb")          # 31.7 min
    write_record(second, out=out / "performance" / "book_runs" / "c.json")
    assert "Over: AV-MaskEnhancer: audio-visual cross-attention (31.7 min)" in describe_budget(read_records(out))
    assert "**not met**" in describe_budget(read_records(out))


def test_steps_lever_keeps_only_passing_cells_and_names_the_lost_ones(tmp_path):
    from maskedav.book.timings import describe_steps_lever, read_steps_levers, steps_lever_table

    keys = dict(task=["motion", "motion", "sound"], protocol=["probe", "knn", "probe"], arm=["A", "A", "B"])
    gate = pd.DataFrame({**keys, "pre-trained": ["50", "20", "99"], "gain": [10.0, 3.0, 0.2],
                         "80% CI": ["[+8, +12]", "[+1, +5]", "[-1, +1]"], "gate": ["passes", "passes", "fails"]})
    reduced = pd.DataFrame({"steps": 1500, **keys, "pre-trained": ["45", "18", "99"], "gain": [6.0, -0.5, 0.1],
                            "80% CI": ["[+4, +8]", "[-2, +1]", "[-1, +1]"], "gate": ["passes", "fails", "fails"],
                            "pretrain_cost_s": [100.0, 100.0, 50.0]})
    folder = tmp_path / "performance" / "regime"
    folder.mkdir(parents=True)
    reduced.to_csv(folder / "gate-1500-steps.csv", index=False)
    reduced.assign(steps=750).to_csv(folder / "gate-750-steps.csv", index=False)
    levers = read_steps_levers(tmp_path)
    assert [int(f.steps.iloc[0]) for f in levers] == [750, 1500]          # ordered by steps, not by name
    t = steps_lever_table(gate, levers[1])
    assert list(t.kept) == ["yes", "no", "—"]                              # a failing cell has nothing to keep
    assert list(t["gain @1500"]) == [6.0, -0.5, 0.1] and "cost per run @1500 (s)" in t.columns
    text = describe_steps_lever(t, 3000)
    assert "Of the 2 cells" in text and "1 still pass at 1,500 steps and 1 fail: A knn on motion." in text
    assert "50% of the steps" in text and "untestable" in text
