"""The reliability battery behind the book's reliability page: every kind of check runs and holds, its
table names no machine path, and a broken promise is counted as not held (the battery is not vacuous)."""
import pandas as pd
import pytest
import torch

from maskedav import reliability as R
from maskedav.data import ffmpeg_corpus
from maskedav.data.media import MediaError


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("reliability")
    before = torch.get_num_threads()
    df = R.battery(workdir, repeats=1)
    assert torch.get_num_threads() == before  # one thread only while it trains
    return df, workdir


def test_every_kind_runs_and_holds(table):
    df, _ = table
    assert list(df.columns) == R.COLUMNS
    assert set(df.kind) == {R.FAULT, R.INPUT}
    faults = set(df[df.kind == R.FAULT].check)
    assert faults == {"NaN loss term at step 5", "+inf loss term at step 5", "-inf loss term at step 5",
                      "SIGTERM to a training process", "SIGINT to a training process",
                      "SIGKILL to a training process"}
    inputs = df[df.kind == R.INPUT]
    assert {"mask ratio outside (0, 1) or not a number", "patch size that does not tile the input",
            "complementary masks impossible at the ratio", "unknown profile", "media: zero-byte file",
            "media: random bytes", "media: truncated: end cut off", "media: truncated: start cut off"} <= set(inputs.check)
    corpus = df[df.check.str.contains("ffmpeg")]
    assert len(corpus) == int(ffmpeg_corpus.available())
    not_held = df[df.held != df.tried]
    assert not_held.empty, not_held.to_dict("records")
    assert (df.tried > 0).all()
    assert "every check behaved as promised" in R.summary(df)
    sig = df.set_index("check").details
    assert "exit 143, checkpoint step 6" in sig["SIGTERM to a training process"]
    assert "exit -9, checkpoint step 4" in sig["SIGKILL to a training process"]


def test_table_names_no_machine_path(table):
    df, workdir = table
    text = df.to_csv(index=False)
    assert str(workdir) not in text and "/tmp" not in text


def test_a_broken_promise_is_counted(tmp_path, monkeypatch):
    """A reader raising another exception, a decoded zero-byte file and an accepted bad config all
    count as not held, and the summary names them."""
    def leaky(path):
        if path.is_file() and path.stat().st_size == 0:
            return torch.zeros(3)                  # "decodes" a zero-byte file
        if "random" in path.parts:
            raise RuntimeError("not a MediaError")  # the wrong exception
        raise MediaError(f"{path}: bad")

    monkeypatch.setattr(R, "_readers", lambda: {"leaky": leaky})
    monkeypatch.setattr(R, "_config_cases", lambda: {"lenient": [("x", lambda: None), ("y", int)]})
    rows = R.check_media(tmp_path, repeats=1) + R.check_configs()
    df = pd.DataFrame(rows, columns=R.COLUMNS)
    media = df.set_index("check")
    assert media.loc["media: random bytes", "held"] == 0
    assert "RuntimeError from leaky" in media.loc["media: random bytes", "details"]
    assert media.loc["media: zero-byte file", "held"] == 0
    assert "returned a result from leaky" in media.loc["media: zero-byte file", "details"]
    assert media.loc["media: truncated: end cut off", "held"] == media.loc["media: truncated: end cut off", "tried"]
    assert media.loc["lenient", "held"] == 0 and "2 accepted" in media.loc["lenient", "details"]
    text = R.summary(df)
    assert "Not held:" in text and "lenient (2 of 2)" in text
