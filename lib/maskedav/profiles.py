"""Named run profiles: one table that every notebook asks for its sizes.

A profile fixes how big a run is (data, model, steps, seeds) and nothing about *what* is run,
so that the same notebook code produces the `smoke` test run, the CPU and GPU runs of the book
on SynthAV, and the papers' own configurations on real data (`paper`).

Budgets (measured on the 2-core machine unless said):

========  =====================================================================================
smoke     every notebook <= 60 s, the whole book <= 15 min; used by the tests.
cpu       each paper's chapter <= 30 min, the whole book <= 3 h; >= 3 seeds per claim.
gpu       the whole book <= 20 min on one H100; >= 5 seeds; larger models and data.
paper     the papers' configurations on real datasets on disk (a cluster's job).
========  =====================================================================================

Notebooks never branch on the profile's name: they read fields of :class:`Profile`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace

PROFILE_NAMES = ("smoke", "cpu", "gpu", "paper")


@dataclass(frozen=True)
class DataSize:
    """Clip geometry and split sizes (SynthAV at smoke/cpu/gpu; real data at `paper`)."""

    frames: int = 8            # video frames per clip
    image_size: int = 32       # square frame side in pixels
    fps: float = 8.0           # frames per second of the generated / decoded clip
    sample_rate: int = 16000   # audio sample rate (Hz)
    n_pretrain: int = 2048     # unlabeled pre-training clips
    n_train: int = 1024        # labelled train clips (probes, fine-tuning)
    n_val: int = 256
    n_test: int = 512
    audio_snr_db: float = 20.0  # background-noise level of SynthAV audio
    num_mel_bins: int = 64     # fbank mel bins at this profile (128 at `paper`)

    @property
    def clip_seconds(self) -> float:
        return self.frames / self.fps


@dataclass(frozen=True)
class ModelSize:
    """Encoder / decoder sizes of the small ViTs (ViT-S/B/L/H live in each method's config)."""

    patch_size: int = 8
    tubelet: int = 2
    audio_patch: int = 8
    dim: int = 96
    depth: int = 3
    heads: int = 3
    mlp_ratio: float = 4.0
    decoder_dim: int = 64
    decoder_depth: int = 2
    decoder_heads: int = 4
    pixel_target: str = "raw"  # "raw": raw-pixel targets (small profiles); "paper": each method's own

    def __post_init__(self):
        if self.pixel_target not in ("raw", "paper"):
            raise ValueError(f"pixel_target must be 'raw' or 'paper', not {self.pixel_target!r}")


@dataclass(frozen=True)
class TrainSize:
    """Optimisation budget of one pre-training / evaluation run."""

    steps: int = 1000          # pre-training steps per run
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 50
    eval_every: int = 100      # held-out evaluation interval (steps)
    probe_epochs: int = 50     # linear-probe epochs
    finetune_steps: int = 200  # short end-to-end fine-tune
    precision: str = "fp32"    # "bf16" uses autocast on CUDA


@dataclass(frozen=True)
class EvalSize:
    """The downstream protocol of the study layer (:mod:`maskedav.study.evaluate`)."""

    readout: str = "layout"    # frozen readout: "layout" (keeps where and when) or "mean"
    probe_train: int = 2048    # labelled train clips of the linear probe and kNN
    probe_epochs: int = 50
    finetune_train: int = 1024  # labelled clips of the few-label fine-tune
    finetune_steps: int = 300
    ceiling_steps: int = 3000  # supervised ceiling: the encoder trained from scratch on all labels
    ceiling_batch: int = 64


@dataclass(frozen=True)
class Profile:
    """One named row of the profile table. See the module docstring for budgets."""

    name: str
    description: str
    device: str                # "cpu", "cuda" or "auto" (cuda when available)
    seeds: int                 # seeds for every claim-bearing comparison
    data: DataSize = field(default_factory=DataSize)
    model: ModelSize = field(default_factory=ModelSize)
    train: TrainSize = field(default_factory=TrainSize)
    eval: EvalSize = field(default_factory=EvalSize)
    dataset: str = "synthav"   # "synthav" or a real dataset read from disk (`paper`)
    cell_timeout_s: int | None = 3600  # papermill per-cell execution timeout

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds))

    def resolve_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def with_(self, **changes) -> "Profile":
        """A copy with some top-level fields replaced (``data=replace(p.data, frames=16)``)."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="seconds per notebook; exercises every code path (tests only, numbers mean nothing)",
        device="cpu",
        seeds=2,
        data=DataSize(frames=8, image_size=32, n_pretrain=64, n_train=64, n_val=32, n_test=64,
                      num_mel_bins=32),
        model=ModelSize(dim=32, depth=1, heads=2, decoder_dim=32, decoder_depth=1, decoder_heads=2),
        train=TrainSize(steps=4, batch_size=8, warmup_steps=1, eval_every=2, probe_epochs=5,
                        finetune_steps=4),
        eval=EvalSize(probe_train=64, probe_epochs=5, finetune_train=32, finetune_steps=4,
                      ceiling_steps=4, ceiling_batch=8),
        cell_timeout_s=300,
    ),
    "cpu": Profile(
        name="cpu",
        description="SynthAV on 2 CPU cores: a chapter in <= 30 min, >= 3 seeds per claim",
        device="cpu",
        seeds=3,
        # The regime in which pre-training measurably learns (shared/notes/regime.md, re-measured by
        # the baselines chapter's learning gate): raw-pixel targets, 8,192 pre-training clips, 3,000
        # steps; 8,192 test clips so that the test set's standard error of a paired accuracy
        # difference stays near 0.5 points.
        data=DataSize(frames=8, image_size=32, n_pretrain=8192, n_train=8192, n_val=1024, n_test=8192,
                      num_mel_bins=64),
        model=ModelSize(dim=96, depth=3, heads=3, decoder_dim=64, decoder_depth=2, decoder_heads=4),
        train=TrainSize(steps=3000, batch_size=32, lr=1e-3, warmup_steps=150, eval_every=500,
                        probe_epochs=50, finetune_steps=200),
        eval=EvalSize(probe_train=2048, probe_epochs=50, finetune_train=1024, finetune_steps=300,
                      ceiling_steps=3000, ceiling_batch=64),
        cell_timeout_s=3600,
    ),
    "gpu": Profile(
        name="gpu",
        description="SynthAV on one H100: the whole book in <= 20 min, >= 5 seeds, larger models",
        device="auto",
        seeds=5,
        data=DataSize(frames=16, image_size=64, n_pretrain=8192, n_train=8192, n_val=1024, n_test=8192,
                      num_mel_bins=64),
        model=ModelSize(dim=192, depth=4, heads=6, decoder_dim=128, decoder_depth=2, decoder_heads=4),
        train=TrainSize(steps=3000, batch_size=128, lr=1e-3, warmup_steps=150, eval_every=250,
                        probe_epochs=100, finetune_steps=500, precision="bf16"),
        eval=EvalSize(probe_train=4096, probe_epochs=100, finetune_train=2048, finetune_steps=500,
                      ceiling_steps=6000, ceiling_batch=128),
        cell_timeout_s=1800,
    ),
    "paper": Profile(
        name="paper",
        description="the papers' own configurations on real datasets on disk (cluster scale)",
        device="auto",
        seeds=1,
        data=DataSize(frames=16, image_size=224, fps=30 / 4, n_pretrain=0, n_train=0, n_val=0,
                      n_test=0, num_mel_bins=128),
        model=ModelSize(patch_size=16, tubelet=2, audio_patch=16, dim=768, depth=12, heads=12,
                        decoder_dim=384, decoder_depth=4, decoder_heads=6, pixel_target="paper"),
        train=TrainSize(steps=0, batch_size=32, lr=1.5e-4, warmup_steps=0, eval_every=0,
                        probe_epochs=100, finetune_steps=0, precision="bf16"),
        dataset="disk",
        cell_timeout_s=None,
    ),
}


def default_profile_name() -> str:
    """`gpu` when CUDA is available, else `cpu` (what ``make reproduce`` uses)."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name`` (the default profile when ``None``)."""
    from .configs import check_choice

    name = name or default_profile_name()
    check_choice("profile", name, PROFILE_NAMES)
    return PROFILES[name]
