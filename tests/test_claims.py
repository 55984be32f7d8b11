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
    flat = verdict([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], "greater")
    assert flat.verdict == "reproduced" and (flat.ci_low, flat.ci_high) == (1.0, 1.0)
    assert verdict([1.0] * 3, [1.0] * 3, "greater").verdict == "inconclusive"
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
    assert list(first[0]) == ["paper", "claim_id", "table", "statement", "paper_effect",
                              "measured_effect", "ci_low", "ci_high", "p_value", "n_seeds", "verdict",
                              "profile", "rule"]
    record_claim(tmp_path, "mvd", "t1-c1", "table1", "A beats B", "+1.4 top-1", verdict(LOW, HIGH), "cpu")
    record_claim(tmp_path, "mvd", "t1-c1", "table1", "A beats B", 1.4, v, "smoke")
    record_claim(tmp_path, "xkd", "t1-c1", "table1", "C beats D", 2.0, v, "cpu")
    after = rows(tmp_path / "claims.csv")
    assert [(r["paper"], r["profile"], r["verdict"]) for r in after] == [
        ("mvd", "cpu", "contradicted"), ("mvd", "smoke", "reproduced"), ("xkd", "cpu", "reproduced")]
    df = read_claims(tmp_path)
    assert len(df) == 3 and df["measured_effect"].iloc[1] == pytest.approx(1.0)


def _write_one(args):
    results, i = args
    record_claim(results, "kdc-mae", f"c{i:02d}", "table1", "s", i, verdict(HIGH, LOW), "cpu")


def test_record_claim_from_several_processes(tmp_path):
    with mp.get_context("fork").Pool(4) as pool:
        pool.map(_write_one, [(str(tmp_path), i) for i in range(16)] * 2)
    got = rows(tmp_path / "claims.csv")
    assert [r["claim_id"] for r in got] == [f"c{i:02d}" for i in range(16)]
    assert np.allclose([float(r["paper_effect"]) for r in got], range(16))
