"""Reading and writing real media files with PyAV (the decoding path of the real-data loaders).

* :func:`read_video` -> ``(3, T, H, W)`` float in [0, 1]: ``num_frames`` frames from ``start``
  seconds, sampled either at ``fps`` (nearest earlier frame for each target time, as XKD's and
  VideoMAE's loaders do) or every ``stride``-th decoded frame.
* :func:`read_audio` -> ``(S,)`` float32 mono (the channel mean; or ``(C, S)``), resampled with
  PyAV's resampler (FFmpeg swresample) to ``sample_rate``.
* :func:`read_clip` -> both streams of the same time span.
* :func:`write_video` writes H.264 + AAC (``.mp4``, ``.mkv``, ``.mov``), VP9 + Opus (``.webm``) or
  MPEG-4 part 2 + PCM (``.avi``).

Bad input never comes back as zeros: a missing, empty, corrupt or truncated file, or one without
the stream that was asked for, raises :class:`MediaError` with the file's path in the message.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch


class MediaError(Exception):
    """A media file could not be read as asked (the message names the file)."""


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration: float | None       # seconds (container)
    has_video: bool
    has_audio: bool
    fps: float | None = None
    num_frames: int | None = None  # as declared by the container (may be 0 = unknown)
    width: int | None = None
    height: int | None = None
    sample_rate: int | None = None
    channels: int | None = None


def _open(path):
    import av

    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: file does not exist")
    if path.is_dir():
        raise MediaError(f"{path}: is a directory, not a media file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)")
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as err:
        raise MediaError(f"{path}: cannot open as a media container (corrupt or not media): {err}") from err


def _duration(container) -> float | None:
    return container.duration / 1_000_000 if container.duration else None


def probe(path) -> MediaInfo:
    """Streams and sizes of a media file, from its header."""
    with _open(path) as c:
        v = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        return MediaInfo(
            path=str(path), duration=_duration(c), has_video=v is not None, has_audio=a is not None,
            fps=float(v.average_rate) if v is not None and v.average_rate else None,
            num_frames=int(v.frames) if v is not None else None,
            width=v.codec_context.width if v is not None else None,
            height=v.codec_context.height if v is not None else None,
            sample_rate=a.codec_context.sample_rate if a is not None else None,
            channels=a.codec_context.channels if a is not None else None)


def _video_stream(container, path):
    if not container.streams.video:
        raise MediaError(f"{path}: has no video stream")
    return container.streams.video[0]


def _audio_stream(container, path):
    if not container.streams.audio:
        raise MediaError(f"{path}: has no audio stream")
    return container.streams.audio[0]


def _stream_end(container, stream) -> float | None:
    """The end time (seconds) the header promises for ``stream``, minus a margin for stream skew.

    Without a per-stream duration (Matroska), the container's duration is the longest stream's
    (often audio, padded by the encoder), so allow 0.25 s of difference.
    """
    if stream.duration and stream.time_base:
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        return start + float(stream.duration * stream.time_base)
    duration = _duration(container)
    return None if duration is None else duration - 0.25


def _time_slack(stream) -> float:
    """Tolerance when comparing frame times: containers round timestamps (Matroska to 1 ms)."""
    return 0.1 / float(stream.average_rate) if stream.average_rate else 1e-3


def _decoded(container, stream, path, start: float, on_screen: bool = False):
    """``(time, frame)`` of the decoded frames at or after ``start`` (seconds).

    ``on_screen=True`` also yields, first, the last frame **before** ``start``: the one still displayed
    at ``start`` when ``start`` falls between two frames.
    """
    import av

    if start > 0:
        try:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
        except av.error.FFmpegError as err:
            raise MediaError(f"{path}: cannot seek to {start:.3f} s: {err}") from err
    period = 1.0 / float(stream.average_rate) if stream.average_rate else 0.0
    slack = _time_slack(stream)
    before = None    # (time, frame) of the latest frame before start
    try:
        for i, frame in enumerate(container.decode(stream)):
            t = frame.time if frame.time is not None else i * period
            if t + slack < start:
                before = (t, frame) if on_screen else None
                continue
            if before is not None:
                yield before
                before = None
            yield t, frame
        if before is not None and start < before[0] + period:   # start within the last frame's display
            yield before
    except av.error.FFmpegError as err:
        raise MediaError(f"{path}: corrupt video data ({err})") from err


def read_video(path, num_frames: int | None = None, *, fps: float | None = None, stride: int = 1,
               start: float = 0.0, pad: bool = True) -> torch.Tensor:
    """Decode frames of ``path`` as ``(3, T, H, W)`` float32 in [0, 1].

    ``fps`` given: frame ``k`` is the frame on screen at time ``start + k / fps``, i.e. the last frame
    whose timestamp is ``<= start + k / fps`` (up to container rounding), also for ``k = 0``. Otherwise every
    ``stride``-th frame from the first frame at or after ``start``; ``num_frames=None`` reads to the
    end. When the file is shorter than the request, ``pad`` repeats the last frame (VideoMAE's index
    clamping); a file that stops before the end its header announces is reported as truncated.
    """
    if fps is not None and num_frames is None:
        raise ValueError("read_video(fps=...) needs num_frames")
    picked, last_time = [], None
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        period = 1.0 / float(stream.average_rate) if stream.average_rate else 0.0
        if fps is not None:
            targets = [start + k / fps for k in range(num_frames)]
            shown = None     # the frame on screen before the current one
            slack = _time_slack(stream)
            for t, frame in _decoded(container, stream, path, start, on_screen=True):
                while len(picked) < num_frames and targets[len(picked)] < t - slack:
                    picked.append(shown if shown is not None else frame)
                shown, last_time = frame, t
                if len(picked) == num_frames:
                    break
            remaining = num_frames - len(picked)
            if shown is not None and remaining:
                end = _stream_end(container, stream)
                if end is not None and last_time + 2 * period < min(targets[-1], end):
                    raise MediaError(f"{path}: truncated (video stops at {last_time:.2f} s, header says {end:.2f} s)")
                on_screen = sum(1 for x in targets[len(picked):] if x < last_time + period - slack)
                picked += [shown] * (remaining if pad else on_screen)
        else:
            exhausted = True
            for i, (t, frame) in enumerate(_decoded(container, stream, path, start)):
                last_time = t
                if i % stride == 0:
                    picked.append(frame)
                    if num_frames is not None and len(picked) == num_frames:
                        exhausted = False
                        break
            end = _stream_end(container, stream)
            if picked and exhausted and end is not None and last_time + 2 * period < end:
                raise MediaError(f"{path}: truncated (video stops at {last_time:.2f} s, header says {end:.2f} s)")
            if picked and num_frames is not None and len(picked) < num_frames and pad:
                picked += [picked[-1]] * (num_frames - len(picked))
        if not picked:
            raise MediaError(f"{path}: no video frames decoded (at or after {start:.3f} s)")
        if num_frames is not None and len(picked) < num_frames:
            raise MediaError(f"{path}: only {len(picked)} of {num_frames} requested frames (pad=False)")
        arrays = np.stack([f.to_ndarray(format="rgb24") for f in picked])
    return torch.from_numpy(arrays).permute(3, 0, 1, 2).float().div_(255.0)


def read_audio(path, sample_rate: int = 16000, *, start: float = 0.0, duration: float | None = None,
               mono: bool = True) -> torch.Tensor:
    """Decode the first audio stream, resampled to ``sample_rate``: ``(S,)`` (mono) or ``(C, S)``.

    ``mono`` is the mean of the channels, ``(L + R) / 2`` for stereo, so it stays in [-1, 1]
    (swresample's own downmix is ``0.707·(L + R)``, up to √2 too loud).
    """
    import av

    with _open(path) as container:
        stream = _audio_stream(container, path)
        resampler = av.AudioResampler(format="fltp", layout=None, rate=sample_rate)   # native channels
        chunks, first_time = [], None
        if start > 1.0:
            try:
                container.seek(int((start - 0.5) / stream.time_base), stream=stream, backward=True)
            except av.error.FFmpegError as err:
                raise MediaError(f"{path}: cannot seek to {start:.3f} s: {err}") from err
        stop = None if duration is None else start + duration
        exhausted = True
        try:
            for frame in container.decode(stream):
                if first_time is None:
                    first_time = frame.time if frame.time is not None else 0.0
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
                if stop is not None and frame.time is not None and frame.time > stop + 0.1:
                    exhausted = False
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.error.FFmpegError as err:
            raise MediaError(f"{path}: corrupt audio data ({err})") from err
        decoded_end = (first_time or 0.0) + sum(c.shape[-1] for c in chunks) / sample_rate
        end = _stream_end(container, stream)
        if chunks and exhausted and end is not None and decoded_end + 0.1 < end:
            raise MediaError(f"{path}: truncated (audio stops at {decoded_end:.2f} s, header says {end:.2f} s)")
    if not chunks or sum(c.shape[-1] for c in chunks) == 0:
        raise MediaError(f"{path}: no audio samples decoded")
    wave = torch.from_numpy(np.concatenate(chunks, axis=-1).astype(np.float32))
    offset = max(0, int(round((start - (first_time or 0.0)) * sample_rate)))
    length = None if duration is None else int(round(duration * sample_rate))
    wave = wave[:, offset:] if length is None else wave[:, offset:offset + length]
    if wave.shape[-1] == 0:
        raise MediaError(f"{path}: no audio at or after {start:.3f} s")
    if length is not None and wave.shape[-1] < length:   # shorter file: zero-pad the tail only
        wave = torch.nn.functional.pad(wave, (0, length - wave.shape[-1]))
    return wave.mean(dim=0) if mono else wave


def read_clip(path, num_frames: int, fps: float, *, start: float = 0.0, sample_rate: int = 16000,
              audio: bool | str = True) -> dict:
    """``num_frames`` frames at ``fps`` from ``start`` and the audio of the same span.

    ``audio=True`` requires an audio stream; ``"optional"`` returns ``audio=None`` without one.
    """
    video = read_video(path, num_frames, fps=fps, start=start)
    out = dict(video=video, audio=None)
    if audio:
        try:
            out["audio"] = read_audio(path, sample_rate, start=start, duration=num_frames / fps)
        except MediaError as err:
            if audio != "optional" or "no audio stream" not in str(err):
                raise
    return out


_DEFAULT_CODECS = {
    ".mp4": ("libx264", "aac"), ".m4v": ("libx264", "aac"), ".mov": ("libx264", "aac"),
    ".mkv": ("libx264", "aac"), ".webm": ("libvpx-vp9", "libopus"), ".avi": ("mpeg4", "pcm_s16le"),
}


def _to_uint8_frames(video: torch.Tensor) -> np.ndarray:
    """``(3, T, H, W)`` float in [0, 1] (or uint8) -> ``(T, H, W, 3)`` uint8."""
    if video.dim() != 4 or video.shape[0] != 3:
        raise ValueError(f"video must be (3, T, H, W), got {tuple(video.shape)}")
    v = video.detach().cpu()
    if v.dtype != torch.uint8:
        v = (v.float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    return v.permute(1, 2, 3, 0).contiguous().numpy()


def write_video(path, video: torch.Tensor, audio: torch.Tensor | None = None, *, fps: float = 8.0,
                sample_rate: int = 16000, video_codec: str | None = None, audio_codec: str | None = None,
                crf: int = 12, pix_fmt: str = "yuv420p") -> Path:
    """Write ``video (3, T, H, W)`` (float in [0, 1]) and optional ``audio (S,)`` / ``(C, S)`` in [-1, 1].

    Codecs default by extension (see module docstring). ``crf`` sets the quality of H.264 / VP9
    (lower is better; 12 is visually lossless at these sizes).
    """
    import av

    path = Path(path)
    default_video, default_audio = _DEFAULT_CODECS.get(path.suffix.lower(), ("libx264", "aac"))
    frames = _to_uint8_frames(video)
    T, H, W, _ = frames.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        vstream = container.add_stream(video_codec or default_video, rate=Fraction(fps).limit_denominator(1001))
        vstream.width, vstream.height, vstream.pix_fmt = W, H, pix_fmt
        name = vstream.codec_context.name
        if name in ("libx264", "libx265"):
            vstream.options = {"crf": str(crf), "preset": "medium"}
        elif name.startswith("libvpx"):
            vstream.options = {"crf": str(crf), "b": "0"}
        else:
            vstream.bit_rate = 4_000_000
        astream = None
        if audio is not None:
            wave = audio.detach().cpu().float().clamp(-1, 1)
            wave = wave[None] if wave.dim() == 1 else wave
            layout = {1: "mono", 2: "stereo"}.get(wave.shape[0])
            if layout is None:
                raise ValueError(f"audio must be (S,) or (C, S) with C in (1, 2), got {tuple(audio.shape)}")
            astream = container.add_stream(audio_codec or default_audio, rate=sample_rate)
            astream.layout = layout
            if astream.codec_context.name == "pcm_s16le":
                frame = av.AudioFrame.from_ndarray(
                    (wave.numpy().T.reshape(1, -1) * 32767).round().astype(np.int16), format="s16", layout=layout)
            else:
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave.numpy()), format="fltp", layout=layout)
            frame.sample_rate = sample_rate
            frame.pts = 0
        for t in range(T):
            for packet in vstream.encode(av.VideoFrame.from_ndarray(frames[t], format="rgb24")):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            for packet in astream.encode(frame):
                container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path


def write_audio(path, audio: torch.Tensor, sample_rate: int = 16000, *, codec: str | None = None) -> Path:
    """Write ``audio (S,)`` or ``(C, S)`` in [-1, 1]: ``.wav`` (16-bit PCM), ``.flac``, ``.mp3``, ``.m4a``/``.aac``, ``.ogg``."""
    import av

    path = Path(path)
    default = {".wav": "pcm_s16le", ".flac": "flac", ".mp3": "libmp3lame", ".m4a": "aac", ".aac": "aac",
               ".ogg": "libopus", ".opus": "libopus"}.get(path.suffix.lower(), "pcm_s16le")
    wave = audio.detach().cpu().float().clamp(-1, 1)
    wave = wave[None] if wave.dim() == 1 else wave
    layout = {1: "mono", 2: "stereo"}[wave.shape[0]]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec or default, rate=sample_rate)
        stream.layout = layout
        if stream.codec_context.name in ("pcm_s16le", "flac"):
            samples = (wave.numpy().T.reshape(1, -1) * 32767).round().astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout=layout)
        else:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave.numpy()), format="fltp", layout=layout)
        frame.sample_rate, frame.pts = sample_rate, 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def read_image(path) -> torch.Tensor:
    """An image file as ``(3, H, W)`` float32 in [0, 1] (RGB; via Pillow)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: file does not exist")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)")
    try:
        with Image.open(path) as img:
            array = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise MediaError(f"{path}: cannot read as an image ({err})") from err
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)
