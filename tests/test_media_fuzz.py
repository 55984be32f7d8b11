"""Property-based fuzzing of the media reader: any bytes give a decoded clip or a MediaError that
names the file, within a bounded time (never another exception, never a hang)."""
import os
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from maskedav.data.media import MediaError, probe, read_audio, read_clip, read_video, write_audio, write_video

SECONDS_PER_CALL = 2.0  # a 4 KiB-1 s input decodes in milliseconds; far more means a hang
FUZZ = settings(max_examples=int(os.environ.get("MASKEDAV_FUZZ_EXAMPLES", 150)), deadline=None,
                derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
READERS = {
    "probe": probe,
    "read_video": lambda p: read_video(p, 4),
    "read_video_fps": lambda p: read_video(p, 4, fps=5.0, start=0.3),
    "read_audio": lambda p: read_audio(p, 16000, duration=0.5),
    "read_clip": lambda p: read_clip(p, 4, 8.0, audio="optional"),
}


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    """Small files of every container the library writes (1 s, 8 fps, with audio; one audio-only)."""
    d = tmp_path_factory.mktemp("fuzz-src")
    video = torch.rand(3, 8, 16, 16, generator=torch.Generator().manual_seed(0))
    audio = 0.5 * torch.sin(torch.arange(16000) / 16000 * 2 * torch.pi * 440)
    files = [write_video(d / f"clip{ext}", video, audio, fps=8.0) for ext in (".mp4", ".webm", ".avi", ".mkv")]
    return {p.suffix: p.read_bytes() for p in files + [write_audio(d / "tone.wav", audio)]}


def check_reader(path, reader):
    """The property: a result or MediaError naming ``path``, within SECONDS_PER_CALL."""
    t0 = time.perf_counter()
    try:
        out = reader(path)
    except MediaError as err:
        assert path.name in str(err)
    else:
        assert out is not None
    assert time.perf_counter() - t0 < SECONDS_PER_CALL


def write(tmp_path, data: bytes, suffix: str):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    return path


@FUZZ
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".mp4", ".webm", ".avi", ".wav", ".bin"]),
       reader=st.sampled_from(sorted(READERS)))
def test_random_bytes(tmp_path, data, suffix, reader):
    check_reader(write(tmp_path, data, suffix), READERS[reader])


@FUZZ
@given(st.data())
def test_truncated_and_corrupted_real_files(tmp_path, real_files, data):
    """A real file cut anywhere (front or back), or with a run of bytes overwritten."""
    suffix = data.draw(st.sampled_from(sorted(real_files)), label="container")
    raw = real_files[suffix]
    a = data.draw(st.integers(0, len(raw)), label="a")
    b = data.draw(st.integers(a, len(raw)), label="b")
    how = data.draw(st.sampled_from(["keep_head", "keep_tail", "overwrite"]), label="how")
    if how == "keep_head":
        mangled = raw[:a]
    elif how == "keep_tail":
        mangled = raw[a:]
    else:
        mangled = raw[:a] + data.draw(st.binary(min_size=b - a, max_size=b - a), label="noise") + raw[b:]
    reader = data.draw(st.sampled_from(sorted(READERS)), label="reader")
    check_reader(write(tmp_path, mangled, suffix), READERS[reader])
