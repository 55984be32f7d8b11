"""Claim verdicts (hand-made arms for every outcome) and the idempotent claims.csv."""
import csv
import math
import multiprocessing as mp

import numpy as np
import pytest
from scipy import stats

from maskedav.claims import read_claims, record_claim, verdict

HIGH, LOW = [1.0, 1.1, 0.9], [0.0, 0.1, -0.1]


def test_directional_verdicts():
    assert verdict(HIGH, LOW, "greater").verdict == "reproduced"
    assert verdict(LOW, HIGH, "greater").verdict == "contradicted"
    assert verdict(LOW, HIGH, "less").verdict == "reproduced"
    assert verdict([0.0, 1.0, 2.0], [0.5, 1.0, 1.5], "greater").verdict == "inconclusive"  # effect 0
    few = verdict(HIGH[:2], LOW[:2], "greater")  # a huge effect, but 2 seeds < min_seeds
    assert few.verdict == "inconclusive" and few.n_seeds == 2 and few.p_value < 0.1


def test_welch_numbers_by_hand():
    a, b = [1.0, 2.0, 3.0], [0.0, 0.5, 1.0]
    se = math.sqrt(1.0 / 3 + 0.25 / 3)                      # sample variances 1 and 0.25
    df = (1.0 / 3 + 0.25 / 3) ** 2 / ((1.0 / 3) ** 2 / 2 + (0.25 / 3) ** 2 / 2)
    t = 1.5 / se
    v = verdict(a, b, "greater", alpha=0.1)
    assert v.effect == pytest.approx(1.5) and v.n_a == v.n_b == 3
    assert v.p_value == pytest.approx(stats.t.sf(t, df))    # 0.052
    half = stats.t.ppf(0.9, df) * se                         # 80 % interval for alpha = 0.1
    assert (v.ci_low, v.ci_high) == pytest.approx((1.5 - half, 1.5 + half))
    assert v.verdict == "reproduced"                          # p = 0.052 < 0.1
    assert verdict(a, b, "greater", alpha=0.05).verdict == "inconclusive"
    assert "alpha=0.1" in v.rule and ">= 3 seeds" in v.rule


def test_equivalence_and_not_greater():
    same_a, same_b = [1.00, 1.01, 0.99, 1.00], [1.00, 1.005, 0.995, 1.00]
    assert verdict(same_a, same_b, "equal", margin=0.1).verdict == "reproduced"
    assert verdict([2.0, 2.1, 1.9], [1.0, 1.1, 0.9], "equal", margin=0.1).verdict == "contradicted"
    assert verdict([0.0, 2.0, 1.0], [1.0, 0.0, 2.0], "equal", margin=0.1).verdict == "inconclusive"
    # "a does not help": a clearly worse is consistent with it, clearly better contradicts it
    assert verdict(LOW, HIGH, "equal", margin=0.1).verdict == "contradicted"
    assert verdict(LOW, HIGH, "not_greater", margin=0.1).verdict == "reproduced"
    assert verdict(HIGH, LOW, "not_greater", margin=0.1).verdict == "contradicted"
    assert verdict(HIGH, LOW, "not_less", margin=0.1).verdict == "reproduced"


def test_degenerate_and_invalid_inputs():
    # zero variance: the old rule returned p = 0 ("reproduced" for arms one test clip apart); now no test
    flat = verdict([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], "greater")
    assert flat.verdict == "inconclusive" and math.isnan(flat.p_value) and "zero variance" in flat.note
    assert (flat.ci_low, flat.ci_high) == (1.0, 1.0)
    assert verdict([1.0] * 3, [1.0] * 3, "greater").verdict == "inconclusive"
    paired_flat = verdict([2.0, 3.0, 4.0], [1.0, 2.0, 3.0], "greater", paired=True)   # d = 1, 1, 1
    assert paired_flat.verdict == "inconclusive" and paired_flat.note.startswith("zero variance")
    single = verdict([1.0], [0.0], "greater")
    assert single.verdict == "inconclusive" and math.isnan(single.p_value)
    with pytest.raises(ValueError):
        verdict([1.0, float("nan"), 2.0], LOW)
    with pytest.raises(ValueError):
        verdict(HIGH, LOW, "equal")                # needs a margin
    with pytest.raises(ValueError):
        verdict(HIGH, LOW, "greater", margin=0.1)  # a margin means nothing here
    with pytest.raises(ValueError):
        verdict(HIGH, LOW, "bigger")
    with pytest.raises(ValueError):
        verdict(HIGH, LOW[:2], paired=True)        # paired arms need one value per shared seed


def test_floor_decides_zero_variance_by_the_test_sets_resolution():
    # arms one test clip apart (0.0122 points on 8,192 clips) against a floor of 0.5 points: inconclusive
    a, b = [50.0122] * 3, [50.0] * 3
    v = verdict(a, b, "greater", paired=True, floor_se=0.5)
    assert v.verdict == "inconclusive" and v.se == pytest.approx(0.5)
    assert v.p_value == pytest.approx(stats.t.sf(0.0122 / 0.5, 2))
    big = verdict([55.0] * 3, [50.0] * 3, "greater", paired=True, floor_se=0.5)
    assert big.verdict == "reproduced" and big.p_value == pytest.approx(stats.t.sf(10.0, 2))


def test_paired_test_by_hand():
    a, b = [10.0, 12.0, 14.0], [9.0, 10.5, 13.0]          # d = 1.0, 1.5, 1.0 ; the arms' spreads are large
    d = np.array([1.0, 1.5, 1.0])
    se = d.std(ddof=1) / math.sqrt(3)
    v = verdict(a, b, "greater", paired=True)
    assert v.paired and v.test == "paired t" and v.se == pytest.approx(se) and v.df == 2
    assert v.p_value == pytest.approx(stats.ttest_rel(a, b, alternative="greater").pvalue)
    assert v.verdict == "reproduced"
    assert verdict(a, b, "greater").verdict == "inconclusive"   # unpaired Welch cannot see it
    half = stats.t.ppf(0.9, 2) * se
    assert (v.ci_low, v.ci_high) == pytest.approx((d.mean() - half, d.mean() + half))
    # minimum detectable effect at power 0.8
    assert v.mde == pytest.approx((stats.t.ppf(0.9, 2) + stats.t.ppf(0.8, 2)) * se)
    with_floor = verdict(a, b, "greater", paired=True, floor_se=0.3)
    assert with_floor.se == pytest.approx(math.sqrt(se ** 2 + 0.09))


def test_untestable_when_an_arm_fails_the_gate():
    v = verdict(HIGH, LOW, "greater", testable=False, gate_note="fails the learning gate: x")
    assert v.verdict == "untestable" and v.note == "fails the learning gate: x"
    assert v.p_value < 0.1                                   # the numbers are still reported


def test_holm_by_hand():
    from maskedav.claims import holm

    # sorted 0.01, 0.02, 0.04, 0.3 -> 4*0.01, 3*0.02, 2*0.04, 1*0.3 with the running maximum
    assert holm([0.04, 0.01, 0.3, 0.02]) == pytest.approx([0.08, 0.04, 0.3, 0.06])
    assert holm([0.5, 0.2]) == pytest.approx([0.5, 0.4])
    out = holm([0.01, float("nan"), 0.03])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.03)


def test_ledger_adjusts_each_papers_family(tmp_path):
    # two claims of one paper, each p ~ 0.06 alone: reproduced raw, not after Holm (0.12 > 0.1)
    a, b = [1.5, 2.0, 1.2], [1.0, 1.0, 1.0]
    v = verdict(a, b, "greater", paired=True)
    assert 0.05 < v.p_value < 0.1 and v.verdict == "reproduced"
    record_claim(tmp_path, "kdc-mae", "c1", "t1", "s", 1, v, "cpu")
    first = rows(tmp_path / "claims.csv")[0]
    assert first["verdict"] == "reproduced" and float(first["p_adjusted"]) == pytest.approx(v.p_value, rel=1e-5)
    record_claim(tmp_path, "kdc-mae", "c2", "t1", "s", 1, v, "cpu")
    record_claim(tmp_path, "mvd", "c1", "t1", "s", 1, v, "cpu")          # another paper: its own family
    record_claim(tmp_path, "kdc-mae", "c3", "t1", "s", 1,
                 verdict(HIGH, LOW, testable=False), "cpu")                # untestable: not in the family
    got = {(r["paper"], r["claim_id"]): r for r in rows(tmp_path / "claims.csv")}
    for cid in ("c1", "c2"):
        r = got[("kdc-mae", cid)]
        assert r["raw_verdict"] == "reproduced" and r["verdict"] == "inconclusive"
        assert float(r["p_adjusted"]) == pytest.approx(2 * v.p_value, rel=1e-5)
        assert float(r["mde"]) == pytest.approx(v.mde, rel=1e-5) and r["test"] == "paired t"
    assert got[("mvd", "c1")]["verdict"] == "reproduced"
    assert got[("kdc-mae", "c3")]["verdict"] == "untestable" and got[("kdc-mae", "c3")]["p_adjusted"] == ""


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_record_claim_is_idempotent(tmp_path):
    v = verdict(HIGH, LOW)
    record_claim(tmp_path, "mvd", "t1-c1", "table1", "A beats B", "+1.4 top-1", v, "cpu")
    record_claim(tmp_path, "mvd", "t1-c1", "table1", "A beats B", "+1.4 top-1", v, "cpu")
    first = rows(tmp_path / "claims.csv")
    assert len(first) == 1 and first[0]["verdict"] == "reproduced"
    assert first[0]["paper_effect"] == "+1.4 top-1" and first[0]["n_seeds"] == "3"
    from maskedav.claims import CLAIM_COLUMNS

    assert list(first[0]) == list(CLAIM_COLUMNS)
    record_claim(tmp_path, "mvd", "t1-c1", "table1", "A beats B", "+1.4 top-1", verdict(LOW, HIGH), "cpu")
    from maskedav.trees import TreeError

    with pytest.raises(TreeError, match="refusing to write smoke results"):   # one profile per tree
        record_claim(tmp_path, "mvd", "t1-c1", "table1", "A beats B", 1.4, v, "smoke")
    record_claim(tmp_path, "xkd", "t1-c1", "table1", "C beats D", 2.0, v, "cpu")
    after = rows(tmp_path / "claims.csv")
    assert [(r["paper"], r["profile"], r["verdict"]) for r in after] == [
        ("mvd", "cpu", "contradicted"), ("xkd", "cpu", "reproduced")]
    df = read_claims(tmp_path)
    assert len(df) == 2 and df["measured_effect"].iloc[1] == pytest.approx(1.0)


def test_unit_is_written_and_old_ledgers_stay_readable(tmp_path):
    record_claim(tmp_path, "mvd", "c1", "table1", "A beats B", "+1.4 top-1", verdict(HIGH, LOW), "cpu")
    assert rows(tmp_path / "claims.csv")[0]["unit"] == ""                 # not given: blank (inferred later)
    old = read_claims(tmp_path).drop(columns=["unit"])                    # a ledger from before the column
    old.to_csv(tmp_path / "claims.csv", index=False)
    assert "unit" not in read_claims(tmp_path)
    record_claim(tmp_path, "mvd", "c2", "fig3", "A is more alike", "qualitative", verdict(HIGH, LOW), "cpu",
                 unit="cosine similarity")
    got = {r["claim_id"]: r for r in rows(tmp_path / "claims.csv")}
    assert got["c1"]["unit"] == "" and got["c2"]["unit"] == "cosine similarity"
    assert got["c1"]["paper_effect"] == "+1.4 top-1"                      # the old row kept as it was


def _write_one(args):
    results, i = args
    record_claim(results, "kdc-mae", f"c{i:02d}", "table1", "s", i, verdict(HIGH, LOW), "cpu")


def test_record_claim_from_several_processes(tmp_path):
    with mp.get_context("fork").Pool(4) as pool:
        pool.map(_write_one, [(str(tmp_path), i) for i in range(16)] * 2)
    got = rows(tmp_path / "claims.csv")
    assert [r["claim_id"] for r in got] == [f"c{i:02d}" for i in range(16)]
    assert np.allclose([float(r["paper_effect"]) for r in got], range(16))
