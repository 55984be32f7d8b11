"""Media the library never wrote itself: a small corpus made with the system's ``ffmpeg``.

lavfi test sources (a moving test pattern, a 440 Hz tone) encoded into other containers and codecs
than :func:`maskedav.data.media.write_video` uses: webm/VP9/Opus, mkv/H.264/FLAC, avi/MPEG-4/MP3,
NTSC-rate mp4/AAC, an index at the front (``+faststart``), odd and portrait frame sizes, a single
frame, a variable frame rate, audio only, a very short wav. Used by ``tests/test_media_corpus.py``
(decoding checked against ffmpeg's own) and by the book's reliability page
(:mod:`maskedav.reliability`). Needs ``ffmpeg`` and ``ffprobe`` on the ``PATH`` (:func:`available`).
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

__all__ = ["TONE_HZ", "TONE_RMS", "CORPUS", "available", "ffmpeg", "ffprobe", "pattern", "tone",
           "make_corpus", "count_frames"]

TONE_HZ, TONE_RMS = 440.0, 0.125 / math.sqrt(2)  # tone(): amplitude 1/8 on every channel


def available() -> bool:
    """Whether ``ffmpeg`` and ``ffprobe`` are installed."""
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def ffmpeg(*args) -> None:
    """Run ``ffmpeg -v error -y <args>`` (raises ``CalledProcessError`` on failure)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True, timeout=60,
                   stdin=subprocess.DEVNULL, capture_output=True)


def pattern(size="64x48", rate="25", seconds=1.0) -> list[str]:
    """lavfi's test pattern: every frame differs (moving gradient, frame counter)."""
    return ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]


def tone(sr, channels=1, seconds=1.0) -> list[str]:
    """``0.125·sin(2π·440·t)`` on each channel (L = R: the mono mix keeps the level)."""
    wave = f"0.125*sin(2*PI*{TONE_HZ}*t)"
    return ["-f", "lavfi", "-i", f"aevalsrc={'|'.join([wave] * channels)}:s={sr}:d={seconds}"]


def ffprobe(path, stream: str, entries: str, *extra: str) -> dict:
    """``ffprobe -select_streams <stream> -show_entries <entries>`` as parsed JSON (``{}`` if none)."""
    out = subprocess.run(["ffprobe", "-v", "error", *extra, "-select_streams", stream, "-of", "json",
                          "-show_entries", entries, str(path)], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    return json.loads(out.stdout or "{}")


def count_frames(path) -> int | None:
    """Video frames ffprobe decodes in ``path`` (``None``: no video stream)."""
    streams = ffprobe(path, "v:0", "stream=nb_read_frames", "-count_frames").get("streams", [])
    return int(streams[0]["nb_read_frames"]) if streams else None


# name -> (ffmpeg arguments, audio (sample rate, channels) or None, has video)
CORPUS: dict[str, tuple[list, tuple[int, int] | None, bool]] = {
    "vp9_opus.webm": ([*pattern(), *tone(48000, 2), "-c:v", "libvpx-vp9", "-deadline", "realtime",
                       "-c:a", "libopus"], (48000, 2), True),
    "x264_flac.mkv": ([*pattern(), *tone(44100, 2), "-c:v", "libx264", "-c:a", "flac"], (44100, 2), True),
    "mpeg4_mp3.avi": ([*pattern(), *tone(44100, 2), "-c:v", "mpeg4", "-q:v", 2, "-c:a", "libmp3lame"],
                      (44100, 2), True),
    "ntsc_aac.mp4": ([*pattern(rate="30000/1001"), *tone(48000), "-c:v", "libx264", "-pix_fmt", "yuv420p",
                      "-c:a", "aac"], (48000, 1), True),
    "faststart.mp4": ([*pattern(), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
                      None, True),
    "odd_size_ffv1.mkv": ([*pattern(size="33x17"), "-c:v", "ffv1", "-pix_fmt", "yuv444p"], None, True),
    "portrait.mp4": ([*pattern(size="48x96"), "-c:v", "libx264", "-pix_fmt", "yuv420p"], None, True),
    "one_frame.mp4": ([*pattern(seconds=0.04), "-c:v", "libx264", "-pix_fmt", "yuv420p"], None, True),
    "vfr.mkv": ([*pattern(rate="25"), "-vf", "setpts='if(lt(N,5),N*0.04,0.2+(N-5)*0.1)/TB'",
                 "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p"], None, True),
    "audio_only.flac": ([*tone(44100, 2)], (44100, 2), False),
    "short_audio.wav": ([*tone(48000, seconds=0.05)], None, False),
}


def make_corpus(directory, names=None) -> dict[str, Path]:
    """Write the files ``names`` of :data:`CORPUS` (default: all) into ``directory``; ``{name: path}``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in (names if names is not None else CORPUS):
        args, _, _ = CORPUS[name]
        ffmpeg(*args, "-shortest", directory / name)
        out[name] = directory / name
    return out
