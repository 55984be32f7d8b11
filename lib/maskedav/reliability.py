"""The reliability battery behind the book's reliability page: faults injected, inputs tried, what held.

:func:`battery` runs every check live (about half a minute at one CPU thread) and returns one tidy
table, a row per check and kind of input, with the columns of :data:`COLUMNS`:

``check``, ``kind`` (``"fault injected"`` or ``"input tried"``), ``tried`` (how many), ``held`` (how
many behaved as promised), ``held means`` (the promise checked) and ``details`` (what was seen).

Faults injected (:mod:`maskedav.train.engine`'s guards, on :class:`~maskedav.train.toy.ToyMethod`):

* a NaN, +inf or -inf loss term at one step of a run with periodic checkpoints: the run must stop with
  :class:`FloatingPointError` naming the step and the term, and leave on disk the last good checkpoint,
  finite and bit for bit the clean run's state at that step (:func:`check_non_finite`);
* SIGTERM, SIGINT and SIGKILL sent to a child process training the toy model (:data:`TRAIN_CHILD`):
  SIGTERM / SIGINT write a checkpoint and exit 143 / 130, SIGKILL leaves the last periodic checkpoint;
  resuming from it gives final weights bitwise equal to an uninterrupted run, each step logged once
  (:func:`check_signals`).

Inputs tried:

* config values out of range (mask ratios, patch sizes that do not tile the input, complementary masks
  impossible at the ratio, unknown choices and profiles): each must raise ``ValueError`` /
  ``TypeError`` naming the field (:func:`check_configs`);
* damaged and junk media files (zero bytes, random bytes, truncated at either end, bytes overwritten,
  missing paths) through every reader of :mod:`maskedav.data.media`: each must decode or raise
  :class:`~maskedav.data.media.MediaError` naming the file, within :data:`SECONDS_PER_CALL`
  (:func:`check_media`);
* where ``ffmpeg`` is installed, files made by it (:mod:`maskedav.data.ffmpeg_corpus`): decoded frame
  counts must equal ffprobe's, audio rate and channels too (:func:`check_ffmpeg_corpus`).
"""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch

__all__ = ["COLUMNS", "FAULT", "INPUT", "TRAIN_CHILD", "SECONDS_PER_CALL", "battery", "summary",
           "check_non_finite", "SignalRuns", "check_signals", "check_configs", "check_media", "check_ffmpeg_corpus"]

COLUMNS = ["check", "kind", "tried", "held", "held means", "details"]
FAULT, INPUT = "fault injected", "input tried"
SECONDS_PER_CALL = 2.0  # a 1 s clip decodes in milliseconds; far more than this means a hang


def _row(check, kind, tried, held, means, details) -> dict:
    return dict(zip(COLUMNS, (check, kind, int(tried), int(held), means, details)))


@contextmanager
def one_thread():
    """torch on one thread (as in :data:`TRAIN_CHILD`), so that kernels reduce in the same order."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ----------------------------------------------------------------------------------------------
# Faults: non-finite losses


def _poisoned_toy(value: float):
    from maskedav.train.toy import ToyMethod

    class PoisonedToy(ToyMethod):
        """ToyMethod plus a loss term ``loss_aux``: 0, or ``value`` on batches marked ``poison``."""

        def forward(self, batch):
            loss, logs = super().forward(batch)
            aux = torch.tensor(value if batch["poison"] else 0.0)
            return loss + aux, {**logs, "loss_aux": aux}

    return PoisonedToy(mask_ratio=0.25)


def check_non_finite(workdir, values=(math.nan, math.inf, -math.inf), at_step: int = 5,
                     steps: int = 12, checkpoint_every: int = 2) -> list[dict]:
    """A NaN / inf loss term injected at completed step ``at_step`` of a toy run with checkpoints."""
    from maskedav.train import TrainConfig, train
    from maskedav.train.toy import toy_batch

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    last_good = (at_step - 1) // checkpoint_every * checkpoint_every
    batches = lambda poison_index: (lambda s: {**toy_batch(s), "poison": s == poison_index})  # noqa: E731

    def config(path):
        return TrainConfig(steps=steps, lr=1e-2, log_every=4, checkpoint_every=checkpoint_every,
                           checkpoint_path=str(path), progress=False)

    # the clean run's state at the last good step: what the kept checkpoint must hold
    torch.manual_seed(0)
    clean, ref = _poisoned_toy(0.0), {}
    train(clean, batches(-1), config(workdir / "clean.pt"),
          on_step=lambda step, row: step == last_good and ref.update(
              {k: v.clone() for k, v in clean.state_dict().items()}))

    rows = []
    for value in values:
        ckpt = workdir / f"nonfinite_{value}.pt"
        torch.manual_seed(0)
        error, failures = None, []
        try:
            train(_poisoned_toy(value), batches(at_step - 1), config(ckpt), log_dir=workdir / f"logs_{value}")
        except FloatingPointError as err:
            error = str(err).replace(str(ckpt), ckpt.name)
        if error is None:
            failures.append("no FloatingPointError")
        else:
            if f"at step {at_step}:" not in error:
                failures.append("step not named")
            if f"loss_aux={value}" not in error:
                failures.append("term not named")
        saved = torch.load(ckpt, weights_only=False) if ckpt.exists() else None
        if saved is None or saved["step"] != last_good:
            failures.append(f"checkpoint step {None if saved is None else saved['step']}, not {last_good}")
        elif not all(torch.isfinite(v).all() for v in saved["model"].values()):
            failures.append("checkpoint has non-finite weights")
        elif not all(torch.equal(saved["model"][k], ref[k]) for k in ref):
            failures.append("checkpoint differs from the clean run")
        seen = error if error is not None else "the run finished"
        label = "NaN" if math.isnan(value) else f"{value:+}"
        rows.append(_row(
            f"{label} loss term at step {at_step}", FAULT, 1, not failures,
            f"FloatingPointError naming step {at_step} and the term; checkpoint on disk = step {last_good}, "
            "finite, bitwise the clean run's",
            seen + ("" if not failures else " — NOT HELD: " + "; ".join(failures))))
    return rows


# ----------------------------------------------------------------------------------------------
# Faults: stop signals (a child process trains the toy model; tests/test_train.py runs it too)

#: A child training script: ``python child.py steps every ckpt log_dir kill_at SIGNAL out``. It trains
#: :class:`~maskedav.train.toy.ToyMethod` with :data:`CHILD_CONFIG` on one thread, sends itself
#: ``SIGNAL`` after completed step ``kill_at`` (``-1``: never) and saves the final weights to ``out``.
TRAIN_CHILD = textwrap.dedent("""
    import os, signal, sys, torch
    torch.set_num_threads(1)
    from maskedav.train import TrainConfig, train
    from maskedav.train.toy import ToyMethod, toy_batch
    steps, every, ckpt, log_dir, kill_at, sig, out = sys.argv[1:]
    torch.manual_seed(0)
    model = ToyMethod(dropout=0.1, mask_ratio=0.25, seed=3)
    cfg = TrainConfig(steps=int(steps), lr=1e-2, warmup_steps=2, clip_grad=1.0,
                      checkpoint_every=int(every), checkpoint_path=ckpt, seed=7, progress=False)
    def on_step(step, row):
        if step == int(kill_at):
            os.kill(os.getpid(), getattr(signal, sig))   # between checkpoints
    try:
        train(model, toy_batch, cfg, log_dir=log_dir, on_step=on_step)
    except KeyboardInterrupt:
        sys.exit(130)  # the shell's code for Ctrl-C
    torch.save(model.state_dict(), out)
""")
#: The child's model and training settings (for the uninterrupted reference and the resume).
CHILD_MODEL = dict(dropout=0.1, mask_ratio=0.25, seed=3)
CHILD_CONFIG = dict(lr=1e-2, warmup_steps=2, clip_grad=1.0, seed=7, progress=False)
#: signal -> (exit status of the child, the step its checkpoint must hold given kill_at, every)
SIGNAL_OUTCOMES = {
    "SIGTERM": (128 + signal.SIGTERM, lambda kill_at, every: kill_at),
    "SIGINT": (130, lambda kill_at, every: kill_at),
    "SIGKILL": (-signal.SIGKILL, lambda kill_at, every: kill_at // every * every),
}


def _child_model():
    from maskedav.train.toy import ToyMethod

    torch.manual_seed(0)
    return ToyMethod(**CHILD_MODEL)


class SignalRuns:
    """Children training the toy model, one per signal, started at once (:func:`check_signals`);
    :meth:`rows` waits for them, then resumes each run here from the child's checkpoint."""

    def __init__(self, workdir, signals=("SIGTERM", "SIGINT", "SIGKILL"), steps: int = 12, every: int = 4,
                 kill_at: int = 6):
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.steps, self.every, self.kill_at = steps, every, kill_at
        script = workdir / "train_child.py"
        script.write_text(TRAIN_CHILD)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.runs = {}
        for sig in signals:
            d = workdir / sig
            d.mkdir(parents=True, exist_ok=True)
            args = [sys.executable, str(script), str(steps), str(every), str(d / "run.pt"), str(d / "logs"),
                    str(kill_at), sig, str(d / "final.pt")]
            self.runs[sig] = (d, subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                  stderr=subprocess.PIPE, text=True))

    def kill(self) -> None:
        """Stop the children (when the battery fails before waiting for them)."""
        for _, proc in self.runs.values():
            if proc.poll() is None:
                proc.kill()
            proc.communicate()

    def rows(self) -> list[dict]:
        import json

        from maskedav.train import TrainConfig, train
        from maskedav.train.toy import toy_batch

        steps, every, kill_at, runs = self.steps, self.every, self.kill_at, self.runs
        with one_thread():
            ref = _child_model()
            ref_hist = train(ref, toy_batch, TrainConfig(steps=steps, **CHILD_CONFIG)).history
            ref_state = ref.state_dict()
            rows = []
            for sig, (d, proc) in runs.items():
                try:
                    _, err = proc.communicate(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    _, err = proc.communicate()
                code, step_of = SIGNAL_OUTCOMES[sig]
                want_step, failures = step_of(kill_at, every), []
                if proc.returncode != code:
                    tail = (err or "").strip().splitlines()[-1:] or [""]
                    failures.append(f"exit status {proc.returncode}, not {code} ({tail[0][:120]})")
                if (d / "final.pt").exists():
                    failures.append("the child finished instead of stopping")
                ckpt = d / "run.pt"
                saved = torch.load(ckpt, weights_only=False)["step"] if ckpt.exists() else None
                if saved != want_step:
                    failures.append(f"checkpoint at step {saved}, not {want_step}")
                exact = False
                if saved is not None:
                    model = _child_model()
                    res = train(model, toy_batch, TrainConfig(steps=steps, checkpoint_every=every,
                                                              checkpoint_path=str(ckpt), **CHILD_CONFIG),
                                log_dir=d / "logs")
                    state = model.state_dict()
                    exact = state.keys() == ref_state.keys() and all(torch.equal(state[k], ref_state[k]) for k in state)
                    if not exact:
                        failures.append("resumed weights differ from the uninterrupted run")
                    logged = [json.loads(x) for x in (d / "logs" / "train.jsonl").read_text().splitlines()]
                    if [r["step"] for r in logged] != list(range(1, steps + 1)):
                        failures.append("log rows are not each step exactly once")
                    elif [r["loss"] for r in logged] != [r["loss"] for r in ref_hist]:
                        failures.append("logged losses differ from the uninterrupted run")
                    if res.resumed_from != saved:
                        failures.append(f"resumed from {res.resumed_from}")
                what = ("writes no checkpoint (killed): resumes from the last periodic one" if sig == "SIGKILL"
                        else "writes a checkpoint at the step boundary, then exits")
                means = (f"exit {code}, checkpoint at step {want_step}; resumed run bitwise equal to an "
                         "uninterrupted one, each step logged once")
                details = (f"sent after step {kill_at} of {steps} (checkpoints every {every}); {what}: exit "
                           f"{proc.returncode}, checkpoint step {saved}; resumed to step {steps}: weights "
                           f"{'bitwise equal' if exact else 'DIFFERENT'}")
                rows.append(_row(f"{sig} to a training process", FAULT, 1, not failures,
                                 means, details + ("" if not failures else " — NOT HELD: " + "; ".join(failures))))
        return rows


def check_signals(workdir, signals=("SIGTERM", "SIGINT", "SIGKILL"), steps: int = 12, every: int = 4,
                  kill_at: int = 6) -> list[dict]:
    """Each signal sent after completed step ``kill_at`` to a child training the toy model (the children
    run in parallel); then the run is resumed here from the child's checkpoint, on one thread."""
    return SignalRuns(workdir, signals, steps, every, kill_at).rows()


# ----------------------------------------------------------------------------------------------
# Inputs: config values


def _config_cases() -> dict[str, list[tuple[str, object]]]:
    """group -> [(field the message must name, a callable that builds the bad config)]."""
    from maskedav.configs import ViTConfig
    from maskedav.masking import complementary_masks
    from maskedav.methods.audiomae import AudioMAEConfig
    from maskedav.methods.av_maskenhancer import AVMaskEnhancerConfig
    from maskedav.methods.cav_mae import CAVMAEConfig
    from maskedav.methods.kdc_mae import KDCMAEConfig
    from maskedav.methods.mae import MAEConfig
    from maskedav.methods.mvd import MVDConfig
    from maskedav.methods.videomae import VideoMAEConfig
    from maskedav.profiles import get_profile
    from maskedav.train import TrainConfig

    ratio_fields = [(MAEConfig, "mask_ratio"), (VideoMAEConfig, "mask_ratio"), (AudioMAEConfig, "mask_ratio"),
                    (CAVMAEConfig, "mask_ratio_a"), (CAVMAEConfig, "mask_ratio_v"), (MVDConfig, "mask_ratio"),
                    (AVMaskEnhancerConfig, "mask_ratio"), (KDCMAEConfig, "mask_ratio_a"),
                    (KDCMAEConfig, "mask_ratio_v")]
    ratios = (0.0, 1.0, 1.5, math.nan, -0.1, math.inf, "0.5")
    bind = lambda f, **kw: (lambda: f(**kw))  # noqa: E731
    vit = lambda **kw: bind(ViTConfig, **kw)  # noqa: E731
    return {
        "mask ratio outside (0, 1) or not a number": [
            (f"{cls.__name__}.{name}", bind(cls, **{name: r})) for cls, name in ratio_fields for r in ratios],
        "patch size that does not tile the input": [
            ("ViTConfig.patch_size", vit(modality="video", input_size=(16, 224, 220))),
            ("ViTConfig.patch_size", vit(modality="video", input_size=(15, 224, 224))),
            ("ViTConfig.patch_size", vit(modality="image", input_size=(32, 30), patch_size=8)),
            ("ViTConfig.patch_size", vit(modality="audio", input_size=(100, 64), patch_size=(16, 4))),
            ("ViTConfig.patch_size", vit(modality="image", input_size=(32, 32), patch_size=0)),
            ("ViTConfig.patch_size", vit(modality="image", input_size=(32, 32), patch_size=(8, 8, 8)))],
        "other ViT geometry (input size, heads, modality)": [
            ("ViTConfig.input_size", vit(modality="video", input_size=(32, 32))),
            ("ViTConfig.input_size", vit(modality="image", input_size=(32, -32), patch_size=8)),
            ("ViTConfig.heads", vit(dim=100, heads=12)),
            ("ViTConfig.modality", vit(modality="sound")),
            ("ViTConfig.spec_layout", vit(spec_layout="xy"))],
        "complementary masks impossible at the ratio": [
            ("KDCMAEConfig.mask_ratio_v", bind(KDCMAEConfig, mask_ratio_v=0.3)),
            ("KDCMAEConfig.mask_ratio_a", bind(KDCMAEConfig, mask_ratio_a=0.4)),
            ("KDCMAEConfig.mask_ratio_v", bind(KDCMAEConfig, num_streams=3, mask_ratio_v=0.6)),
            ("KDCMAEConfig.mask_ratio_a", bind(KDCMAEConfig, num_streams=3, mask_ratio_a=0.5)),
            ("ratio", bind(complementary_masks, batch=2, num_tokens=10, ratio=0.4, num_streams=2, seed=0))],
        "unknown choice (mask type, loss, precision, ...)": [
            ("MAEConfig.mask_type", bind(MAEConfig, mask_type="tube")),
            ("VideoMAEConfig.norm_pix", bind(VideoMAEConfig, norm_pix="per_pixel")),
            ("AudioMAEConfig.mask_type", bind(AudioMAEConfig, mask_type="block")),
            ("CAVMAEConfig.train_frame", bind(CAVMAEConfig, train_frame="first")),
            ("MVDConfig.loss", bind(MVDConfig, loss="l3")),
            ("AVMaskEnhancerConfig.audio_alignment", bind(AVMaskEnhancerConfig, audio_alignment="local")),
            ("AVMaskEnhancerConfig.mask_type", bind(AVMaskEnhancerConfig, mask_type="random")),
            ("precision", bind(TrainConfig, precision="fp16"))],
        "unknown profile": [
            ("profile", bind(get_profile, name="bogus")), ("profile", bind(get_profile, name="CPU")),
            ("profile", bind(get_profile, name="smoke ")),
            ("profile", bind(ViTConfig.from_profile, profile="bogus"))],
    }


def check_configs() -> list[dict]:
    """Every bad value must fail at construction with ValueError / TypeError naming the field."""
    rows = []
    for group, cases in _config_cases().items():
        held, errors, fields = 0, {}, []
        for field, build in cases:
            fields.append(field)
            try:
                build()
            except (ValueError, TypeError) as err:
                errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1
                held += field in str(err)
            else:
                errors["accepted"] = errors.get("accepted", 0) + 1
        names = sorted(set(fields))
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        raised = ", ".join(f"{n} {k}" for k, n in sorted(errors.items()))
        rows.append(_row(group, INPUT, len(cases), held, "ValueError / TypeError at construction naming the field",
                         f"fields {shown}: {raised}"))
    return rows


# ----------------------------------------------------------------------------------------------
# Inputs: damaged and junk media files


def _readers() -> dict:
    from maskedav.data.media import probe, read_audio, read_clip, read_video

    return {"probe": probe, "read_video": lambda p: read_video(p, 4),
            "read_video(fps)": lambda p: read_video(p, 4, fps=5.0, start=0.3),
            "read_audio": lambda p: read_audio(p, 16000, duration=0.5),
            "read_clip": lambda p: read_clip(p, 4, 8.0, audio="optional")}


def _sane(out) -> bool:
    """A decoded result: finite tensors (a probe's MediaInfo counts as sane)."""
    tensors = [v for v in (out.values() if isinstance(out, dict) else [out]) if isinstance(v, torch.Tensor)]
    return out is not None and all(bool(torch.isfinite(t).all()) and t.numel() > 0 for t in tensors)


def _source_files(directory: Path) -> dict[str, bytes]:
    """Small real files of every container the library writes (1 s, 8 fps, 16x16, a 440 Hz tone)."""
    from maskedav.data.media import write_audio, write_video

    video = torch.rand(3, 8, 16, 16, generator=torch.Generator().manual_seed(0))
    audio = 0.5 * torch.sin(torch.arange(16000) / 16000 * 2 * torch.pi * 440)
    files = [write_video(directory / f"clip{ext}", video, audio, fps=8.0) for ext in (".mp4", ".webm", ".avi", ".mkv")]
    return {p.suffix: p.read_bytes() for p in files + [write_audio(directory / "tone.wav", audio)]}


def check_media(workdir, repeats: int = 2, seed: int = 0) -> list[dict]:
    """Junk and damaged files through every reader: each decodes (finite values) or raises MediaError
    naming the file, within :data:`SECONDS_PER_CALL`; zero-byte and missing files must raise."""
    from maskedav.data.media import MediaError

    workdir = Path(workdir)
    (workdir / "src").mkdir(parents=True, exist_ok=True)
    real = _source_files(workdir / "src")
    rng = np.random.default_rng(seed)
    readers = _readers()

    def cut(raw, frac_lo, frac_hi):
        return int(rng.integers(max(1, int(frac_lo * len(raw))), max(2, int(frac_hi * len(raw)))))

    kinds: dict[str, list[tuple[bytes | None, str]]] = {
        "zero-byte file": [(b"", s) for s in real],
        "random bytes": [(rng.integers(0, 256, int(rng.integers(16, 4096)), np.uint8).tobytes(), s)
                         for _ in range(repeats) for s in real],
        "truncated: end cut off": [(raw[:cut(raw, 0.05, 0.95)], s) for _ in range(repeats) for s, raw in real.items()],
        "truncated: start cut off": [(raw[cut(raw, 0.05, 0.95):], s) for _ in range(repeats) for s, raw in real.items()],
        "bytes overwritten in the middle": [],
        "missing file or a directory": [(None, ".mp4"), (None, "/")],
    }
    for _ in range(repeats):
        for s, raw in real.items():
            a = cut(raw, 0.1, 0.8)
            b = min(len(raw), a + int(rng.integers(8, 256)))
            kinds["bytes overwritten in the middle"].append(
                (raw[:a] + rng.integers(0, 256, b - a, np.uint8).tobytes() + raw[b:], s))
    must_raise = {"zero-byte file", "missing file or a directory"}
    means = {True: "MediaError naming the file", False: "decodes (finite values) or MediaError naming the file"}

    rows = []
    for kind, files in kinds.items():
        tried = held = raised = decoded = 0
        problems: dict[str, int] = {}
        for i, (data, suffix) in enumerate(files):
            d = workdir / "junk" / kind.split(":")[0].split()[0] / str(i)
            d.mkdir(parents=True, exist_ok=True)
            if data is None:
                path = d / "missing.mp4" if suffix != "/" else d / "folder.mp4"
                if suffix == "/":
                    path.mkdir(exist_ok=True)
            else:
                path = d / f"input{suffix}"
                path.write_bytes(data)
            for name, read in readers.items():
                tried += 1
                t0 = time.perf_counter()
                try:
                    out = read(path)
                except MediaError as err:
                    ok = path.name in str(err)
                    raised += ok
                    if not ok:
                        problems["MediaError without the file name"] = problems.get("MediaError without the file name", 0) + 1
                except Exception as err:  # noqa: BLE001 - counted: any other exception breaks the promise
                    ok = False
                    key = f"{type(err).__name__} from {name}"
                    problems[key] = problems.get(key, 0) + 1
                else:
                    ok = kind not in must_raise and _sane(out)
                    decoded += ok
                    if not ok:
                        problems[f"returned a result from {name}"] = problems.get(f"returned a result from {name}", 0) + 1
                if time.perf_counter() - t0 > SECONDS_PER_CALL:
                    ok = False
                    problems[f"over {SECONDS_PER_CALL:g} s"] = problems.get(f"over {SECONDS_PER_CALL:g} s", 0) + 1
                held += ok
        suffixes = "/".join(sorted({s.lstrip(".") for _, s in files if s != "/"}))
        details = (f"{len(files)} files ({suffixes}) × {len(readers)} readers: {raised} raised MediaError "
                   f"naming the file, {decoded} decoded")
        if problems:
            details += " — NOT HELD: " + ", ".join(f"{n} {k}" for k, n in sorted(problems.items()))
        rows.append(_row(f"media: {kind}", INPUT, tried, held,
                         means[kind in must_raise] + f", within {SECONDS_PER_CALL:g} s", details))
    return rows


# ----------------------------------------------------------------------------------------------
# Inputs: files made by ffmpeg

#: The ffmpeg-made files the page decodes (a handful of :data:`maskedav.data.ffmpeg_corpus.CORPUS`).
FFMPEG_FILES = ("vp9_opus.webm", "x264_flac.mkv", "mpeg4_mp3.avi", "ntsc_aac.mp4", "vfr.mkv",
                "odd_size_ffv1.mkv", "audio_only.flac")


def check_ffmpeg_corpus(workdir, names=FFMPEG_FILES) -> list[dict]:
    """Files made by ffmpeg: every decoded frame count equals ffprobe's, audio rate / channels too;
    a file without video raises MediaError naming it. One row with ``tried = 0`` without ffmpeg."""
    from maskedav.data import ffmpeg_corpus as fc
    from maskedav.data.media import MediaError, probe, read_video

    check = "media: files made by ffmpeg (other containers and codecs)"
    means = "frame count = ffprobe's, audio rate and channels = ffprobe's; no video: MediaError naming the file"
    if not fc.available():
        return [_row(check, INPUT, 0, 0, means, "skipped: ffmpeg / ffprobe are not installed on this machine")]
    paths = fc.make_corpus(Path(workdir) / "ffmpeg", names)
    held, seen = 0, []
    for name, path in paths.items():
        _, audio, has_video = fc.CORPUS[name]
        ref_frames, ok = fc.count_frames(path), True
        try:
            got = read_video(path).shape[1]
        except MediaError as err:
            got = "MediaError"
            ok = ref_frames is None and path.name in str(err) and "no video stream" in str(err)
        else:
            ok = got == ref_frames
        if audio is not None:
            stream = fc.ffprobe(path, "a:0", "stream=sample_rate,channels")["streams"][0]
            info = probe(path)
            ok = ok and (info.sample_rate, info.channels) == (int(stream["sample_rate"]), stream["channels"]) == audio
        held += ok
        frames = "no video" if ref_frames is None else f"{got}/{ref_frames} frames"
        seen.append(f"{name} {frames}" + ("" if ok else " NOT HELD"))
    return [_row(check, INPUT, len(paths), held, means, "; ".join(seen))]


# ----------------------------------------------------------------------------------------------
# The battery


def battery(workdir=None, *, repeats: int = 2, ffmpeg: bool | None = None) -> pd.DataFrame:
    """Every check, as one table (columns :data:`COLUMNS`). ``workdir``: where the runs and files go
    (default: a temporary folder, removed afterwards). ``repeats``: damaged files per container and kind
    of damage. ``ffmpeg``: decode the ffmpeg-made files (default: when ffmpeg is installed)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="maskedav-reliability-") as tmp:
            return battery(tmp, repeats=repeats, ffmpeg=ffmpeg)
    workdir = Path(workdir)
    from maskedav.data import ffmpeg_corpus as fc

    use_ffmpeg = fc.available() if ffmpeg is None else ffmpeg
    signals = SignalRuns(workdir / "signals")  # the children train while the other checks run
    try:
        with one_thread():
            faults = check_non_finite(workdir / "nonfinite")
        inputs = check_configs() + check_media(workdir / "media", repeats=repeats)
        if use_ffmpeg:
            inputs += check_ffmpeg_corpus(workdir)
    except BaseException:
        signals.kill()
        raise
    return pd.DataFrame(signals.rows() + faults + inputs, columns=COLUMNS)


def summary(table: pd.DataFrame) -> str:
    """One Markdown sentence: faults injected, inputs tried and how many held."""
    faults, inputs = table[table.kind == FAULT], table[table.kind == INPUT]
    broken = table[table.held < table.tried]
    skipped = table[table.tried == 0]
    text = (f"The battery injected **{int(faults.tried.sum())} faults** (in {len(faults)} checks) and tried "
            f"**{int(inputs.tried.sum())} inputs** (of {len(inputs)} kinds); "
            f"**{int(table.held.sum())} of {int(table.tried.sum())} held**")
    if broken.empty:
        text += ": every check behaved as promised."
    else:
        text += ". Not held: " + "; ".join(f"{r.check} ({r.tried - r.held} of {r.tried})"
                                           for r in broken.itertuples()) + "."
    if not skipped.empty:
        text += " Skipped here: " + ", ".join(skipped.check) + "."
    return text
