"""Media the library never wrote itself: a corpus made with Debian's ffmpeg (lavfi test sources,
:mod:`maskedav.data.ffmpeg_corpus`).

Every file either decodes correctly, checked against ffmpeg's own decoding (frame count and
pixels, frame times from ffprobe, audio rate, length, pitch and level), or raises
:class:`~maskedav.data.media.MediaError` naming the file. Skipped where ffmpeg is not installed.
"""
import subprocess

import numpy as np
import pytest
import torch

from maskedav.data.ffmpeg_corpus import CORPUS, TONE_HZ, TONE_RMS, available, ffprobe, make_corpus
from maskedav.data.media import MediaError, probe, read_audio, read_clip, read_video

pytestmark = pytest.mark.skipif(not available(), reason="ffmpeg / ffprobe not installed")


def reference_frames(path):
    """ffmpeg's own decoding: ``(times, rgb frames (N, H, W, 3) uint8)``."""
    info = ffprobe(path, "v:0", "stream=width,height:frame=best_effort_timestamp_time")
    w, h = info["streams"][0]["width"], info["streams"][0]["height"]
    times = [float(f["best_effort_timestamp_time"]) for f in info["frames"]]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, timeout=60).stdout
    return times, np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def as_uint8(video):  # (3, T, H, W) in [0, 1] -> (T, H, W, 3)
    return (video.permute(1, 2, 3, 0) * 255).round().to(torch.uint8).numpy()


def check_video(path):
    """Every frame and the frame on screen at times between ffprobe's timestamps match ffmpeg."""
    ours = as_uint8(read_video(path))
    times, ref = reference_frames(path)
    assert ours.shape == ref.shape, path.name
    assert np.abs(ours.astype(int) - ref).mean() < 3, path.name  # same frames (decoders may round)
    assert len(times) == len(ref)

    for j in sorted({0, 1, len(times) // 2, len(times) - 1} & set(range(len(times)))):
        nxt = times[j + 1] if j + 1 < len(times) else times[j] + 0.01
        at = times[j] + 0.25 * (nxt - times[j])  # on the stream's clock, as ffprobe's times
        got = as_uint8(read_video(path, 1, fps=100.0, start=at))[0]
        assert np.array_equal(got, ours[j]), (path.name, j, at)  # same decoder: bit-exact
    return len(ref)


def check_audio(path, sr, channels):
    """Rate and channels from ffprobe; length as ffmpeg decodes it; the tone's pitch and level."""
    stream = ffprobe(path, "a:0", "stream=sample_rate,channels")["streams"][0]
    assert (int(stream["sample_rate"]), stream["channels"]) == (sr, channels)
    info = probe(path)
    assert (info.sample_rate, info.channels) == (sr, channels)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le", "-"],
                         capture_output=True, timeout=60).stdout
    ref_len = len(raw) // 4 // channels
    wave = read_audio(path, sr, mono=False)
    assert wave.shape[0] == channels and abs(wave.shape[1] - ref_len) <= 0.01 * sr, (wave.shape, ref_len)
    mono = read_audio(path, 16000)
    body = mono[1600:-1600]  # away from codec edges
    spec = torch.fft.rfft(body * torch.hann_window(len(body))).abs()
    assert abs(float(torch.fft.rfftfreq(len(body), 1 / 16000)[spec.argmax()]) - TONE_HZ) < 3
    assert float(body.pow(2).mean().sqrt()) == pytest.approx(TONE_RMS, rel=0.1)  # (L + R) / 2, not 0.7(L + R)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("ffmpeg-corpus")
    make_corpus(d)
    return d


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_decodes_like_ffmpeg(corpus, name):
    path = corpus / name
    _, audio, has_video = CORPUS[name]
    if has_video:
        check_video(path)
    else:
        with pytest.raises(MediaError, match=rf"{path.name}.*no video stream"):
            read_video(path, 4)
    if audio is not None:
        check_audio(path, *audio)
    elif name == "short_audio.wav":  # 50 ms of tone: read exactly, padded to a requested length
        wave = read_audio(path, 48000)
        assert len(wave) == 2400 and float(wave.abs().max()) == pytest.approx(0.125, abs=0.01)
        assert len(read_audio(path, 48000, duration=0.1)) == 4800
    else:
        with pytest.raises(MediaError, match=rf"{path.name}.*no audio stream"):
            read_audio(path)
        assert read_clip(path, 2, 8.0, audio="optional")["audio"] is None


def cut(src, dst, head=0, keep=None):
    data = src.read_bytes()
    dst.write_bytes(data[head:] if keep is None else data[head:head + keep])
    return dst


@pytest.mark.parametrize("name, how", [
    ("x264_flac.mkv", "back"), ("x264_flac.mkv", "front"),
    ("ntsc_aac.mp4", "back"), ("ntsc_aac.mp4", "front"),          # index (moov) at the back
    ("faststart.mp4", "back"), ("faststart.mp4", "front"),        # index at the front
    ("vp9_opus.webm", "back"), ("mpeg4_mp3.avi", "back"), ("mpeg4_mp3.avi", "front")])
def test_truncated_files_decode_or_raise_naming_the_file(corpus, tmp_path, name, how):
    src = corpus / name
    size = src.stat().st_size
    path = cut(src, tmp_path / f"cut_{how}_{name}", **({"keep": size // 2} if how == "back" else {"head": size // 3}))
    try:
        frames = check_video(path)  # what is left decodes exactly as ffmpeg decodes it
    except MediaError as err:
        assert path.name in str(err)
    else:
        assert 0 < frames < 25


@pytest.mark.parametrize("content", [b"", bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8))])
@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".wav"])
def test_empty_and_random_files(tmp_path, content, suffix):
    path = tmp_path / f"junk{len(content)}{suffix}"
    path.write_bytes(content)
    for read in (probe, read_video, read_audio):
        with pytest.raises(MediaError, match=path.name):
            read(path)
