"""Media I/O with PyAV: containers, codecs, rates, channel layouts, bad files, SynthAV round trip."""
import math

import numpy as np
import pytest
import torch

from maskedav.data import synthav as S
from maskedav.data.media import (MediaError, probe, read_audio, read_clip, read_image, read_video,
                                 write_audio, write_video)


def numbered_clip(frames: int, size: int = 32) -> torch.Tensor:
    """Frame k is a flat grey of level (k + 1) / (frames + 1): the frame index can be read back."""
    levels = (torch.arange(frames, dtype=torch.float32) + 1) / (frames + 1)
    return levels.view(1, frames, 1, 1).expand(3, frames, size, size).clone()


def frame_ids(video: torch.Tensor, frames: int) -> list[int]:
    return [round(float(v) * (frames + 1) - 1) for v in video.mean((0, 2, 3))]


def tone(freq: float, seconds: float, sr: int, channels: int = 1) -> torch.Tensor:
    t = torch.arange(int(seconds * sr)) / sr
    wave = 0.5 * torch.sin(2 * math.pi * freq * t)
    return wave if channels == 1 else torch.stack([wave, 0.5 * wave])


def peak_hz(wave: torch.Tensor, sr: int) -> float:
    spec = torch.fft.rfft(wave * torch.hann_window(len(wave))).abs()
    return float(torch.fft.rfftfreq(len(wave), 1 / sr)[spec.argmax()])


@pytest.mark.parametrize("name,fps,sr,channels", [
    ("clip.mp4", 25.0, 44100, 2),      # H.264 + AAC, stereo
    ("clip.mkv", 30000 / 1001, 16000, 1),  # H.264 + AAC in Matroska, NTSC rate
    ("clip.webm", 10.0, 48000, 2),     # VP9 + Opus
    ("clip.avi", 8.0, 22050, 1),       # MPEG-4 part 2 + PCM
])
def test_containers_codecs_rates(tmp_path, name, fps, sr, channels):
    frames = 20
    path = write_video(tmp_path / name, numbered_clip(frames), tone(440.0, frames / fps, sr, channels),
                       fps=fps, sample_rate=sr)
    info = probe(path)
    assert info.has_video and info.has_audio and info.width == 32 and info.channels == channels
    assert abs(info.fps - fps) < 0.01
    every = read_video(path)
    assert every.shape == (3, frames, 32, 32)
    assert frame_ids(every, frames) == list(range(frames))
    strided = read_video(path, 5, stride=3)
    assert frame_ids(strided, frames) == [0, 3, 6, 9, 12]
    # resampling in time: frame on screen at k / (fps / 2) is source frame 2k
    half = read_video(path, 6, fps=fps / 2)
    assert frame_ids(half, frames) == [0, 2, 4, 6, 8, 10]
    later = read_video(path, 3, fps=fps, start=10 / fps)
    assert frame_ids(later, frames) == [10, 11, 12]
    audio = read_audio(path, 16000)
    assert audio.dim() == 1 and abs(len(audio) - 16000 * frames / fps) < 1100
    assert abs(peak_hz(audio[2000:-2000], 16000) - 440.0) < 3.0
    assert read_audio(path, 16000, mono=False).shape[0] == channels


def test_short_file_pads_by_repeating_the_last_frame(tmp_path):
    path = write_video(tmp_path / "short.mp4", numbered_clip(4), fps=8)
    v = read_video(path, 7, fps=8)
    assert frame_ids(v, 4) == [0, 1, 2, 3, 3, 3, 3]
    with pytest.raises(MediaError, match="short.mp4"):
        read_video(path, 7, fps=8, pad=False)


def test_no_audio_stream(tmp_path):
    path = write_video(tmp_path / "silent.mp4", numbered_clip(8), fps=8)
    assert not probe(path).has_audio
    with pytest.raises(MediaError, match=r"silent\.mp4.*no audio stream"):
        read_audio(path)
    with pytest.raises(MediaError, match="no audio stream"):
        read_clip(path, 4, fps=8)
    assert read_clip(path, 4, fps=8, audio="optional")["audio"] is None


def test_audio_only_file_has_no_video(tmp_path):
    path = write_audio(tmp_path / "sound.wav", tone(300.0, 0.5, 8000), 8000)
    with pytest.raises(MediaError, match=r"sound\.wav.*no video stream"):
        read_video(path, 4)
    assert abs(peak_hz(read_audio(path, 16000), 16000) - 300.0) < 3.0


@pytest.mark.parametrize("kind", ["empty", "missing", "garbage", "truncated_mp4", "truncated_mkv"])
def test_bad_files_raise_errors_naming_the_file(tmp_path, kind):
    path = tmp_path / f"bad_{kind}.mkv"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif kind.startswith("truncated"):
        ext = ".mp4" if kind.endswith("mp4") else ".mkv"
        path = tmp_path / f"bad_{kind}{ext}"
        clip = torch.rand(3, 40, 32, 32)              # noise: big frames, so the cut loses many
        write_video(path, clip, tone(440, 5.0, 16000), fps=8)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError, match=f"bad_{kind}"):
        read_video(path, 40, fps=8)
    with pytest.raises(MediaError, match=f"bad_{kind}"):
        read_video(path)                                  # reading "to the end" notices it too
    if kind != "missing":
        with pytest.raises(MediaError, match=f"bad_{kind}"):
            read_audio(path)


def test_image_reading(tmp_path):
    from PIL import Image

    array = (np.arange(4 * 6 * 3).reshape(4, 6, 3) * 3).astype(np.uint8)
    Image.fromarray(array).save(tmp_path / "x.png")
    img = read_image(tmp_path / "x.png")
    assert img.shape == (3, 4, 6) and torch.allclose(img * 255, torch.from_numpy(array).permute(2, 0, 1).float())
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(MediaError, match="broken.jpg"):
        read_image(tmp_path / "broken.jpg")


def test_synthav_export_round_trip(tmp_path):
    cfg = S.SynthAVConfig(n_test=4)
    paths = S.export(cfg, "test", range(3), tmp_path)
    ref = S.generate(cfg, "test", range(3))
    labels = (tmp_path / "labels.csv").read_text().splitlines()
    assert labels[0].startswith("file,split,index,appearance,motion,sound,av_event")
    assert len(labels) == 4
    for b, path in enumerate(paths):
        clip = read_clip(path, cfg.frames, fps=cfg.fps, sample_rate=cfg.sample_rate)
        assert clip["video"].shape == ref["video"][b].shape
        assert clip["audio"].shape == ref["audio"][b].shape
        err = (clip["video"] - ref["video"][b]).abs()
        assert err.mean() < 0.03                           # H.264 (4:2:0 chroma) at crf 12
        luma = lambda v: (0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2])  # noqa: E731
        assert (luma(clip["video"]) - luma(ref["video"][b])).abs().mean() < 0.015
        a, r = clip["audio"], ref["audio"][b]
        assert float((a * r).sum() / (a.norm() * r.norm())) > 0.99   # AAC, no delay after decoding


@pytest.mark.parametrize("name,file_rate", [("stereo.wav", 16000), ("stereo.flac", 44100)])
def test_stereo_downmix_is_the_channel_mean(tmp_path, name, file_rate):
    # Issue 11: swresample's stereo->mono matrix is 0.707·(L + R), so L = R = 0.9 came back at 1.273
    t = torch.arange(file_rate // 2) / file_rate
    wave = 0.9 * torch.sin(2 * math.pi * 440.0 * t)
    same = read_audio(write_audio(tmp_path / name, torch.stack([wave, wave]), file_rate), 16000)
    assert float(same.abs().max()) == pytest.approx(0.9, abs=0.01)   # (L + R) / 2 = 0.9 sin
    assert float(same.abs().max()) <= 1.0
    ref = read_audio(write_audio(tmp_path / f"mono_{name}", wave, file_rate), 16000)
    assert torch.allclose(same, ref, atol=1e-3)                       # identical channels = the mono file
    half = read_audio(write_audio(tmp_path / f"half_{name}", torch.stack([wave, torch.zeros_like(wave)]),
                                  file_rate), 16000)
    assert torch.allclose(half, 0.5 * ref, atol=1e-3)                 # only L: L / 2
    both = read_audio(write_audio(tmp_path / f"both_{name}", torch.stack([wave, 0.5 * wave]), file_rate),
                      16000, mono=False)
    assert both.shape[0] == 2 and float(both[0].abs().max()) == pytest.approx(0.9, abs=0.01)


@pytest.mark.parametrize("name", ["clip.mp4", "clip.mkv"])
def test_read_video_fps_first_frame_is_the_one_on_screen_at_start(tmp_path, name):
    # Issue 11: at 25 fps, t = 0.4333 s shows frame 10 (pts 0.40 <= t < 0.44); the reader skipped to 11
    frames = 30
    path = write_video(tmp_path / name, numbered_clip(frames), fps=25.0)
    got = read_video(path, 4, fps=7.5, start=0.4333)
    # targets 0.4333, 0.5667, 0.7, 0.8333 s -> floor(25·t) = 10, 14, 17, 20
    assert frame_ids(got, frames) == [10, 14, 17, 20]
    for start in (0.01, 0.05, 0.3, 0.61, 0.99):
        expected = [math.floor(25 * (start + k / 12.5)) for k in range(3)]
        assert frame_ids(read_video(path, 3, fps=12.5, start=start), frames) == expected, start
    # a start on a frame time still gives that frame; the stride path keeps "first frame at or after start"
    assert frame_ids(read_video(path, 2, fps=25.0, start=0.4), frames) == [10, 11]
    assert frame_ids(read_video(path, 2, stride=1, start=0.4333), frames) == [11, 12]
