"""SynthAV: the book's procedural audio-visual benchmark.

A clip is a static textured background with 1-3 objects. Object slot 0 is the **actor**: the largest
object, the one the visual labels describe. One object, chosen at random among those present (or
always the actor, ``sounding="actor"``), is the **sounding object**: the audio is its sound.

Each object has a shape (square, disk, triangle, cross, ring; optionally the ten sklearn digits),
a material (a colour that also fixes its timbre: red = sine, green = reed, blue = saw,
yellow = bell, magenta = FM, cyan = noise band), a texture painted in its own coordinates
(stripes, checker, gradient) and a dynamics. Shapes and materials are distinct within a clip.

The sound tells *what* (timbre = material), *where* (pitch follows y, amplitude-modulation
rate/depth follow x), *how big* (loudness follows size) and *when* (silent while invisible, onsets
at the frames of its bounces, appearance and collisions); see :mod:`.synthav_render`.

Label sets (all computed for every clip; separate targets of the same clips):

==========  ===========================================  =======================================
task        label                                        solvable from
==========  ===========================================  =======================================
appearance  shape of the actor (K400 analogue)           one frame (the actor is the largest)
motion      dynamics of the actor (SSv2 analogue)        the order of frames: 5 time-reversal
                                                         pairs are identical as frame *sets*
sound       material = timbre of the sounding object     audio (video alone: it cannot tell which
            (ESC-50 analogue)                            object sounds, ~1/#objects)
av_event    shape of the sounding object ("what makes    both: audio says which object (timbre,
            the sound")                                  position), video says its shape
==========  ===========================================  =======================================

Reversal pairs are exact: the clip of ``left`` is the clip of ``right`` played backwards (all
objects; audio re-rendered from the reversed tracks), and pair members have the same distribution
of everything else, so any function of the *set* of frames is at chance on them.

Every random number is a hash of ``(seed, split, index, name)`` (:mod:`.rng`): the same clip comes
out bit for bit alone or in any batch, and splits use disjoint seed streams.
"""
from __future__ import annotations

import csv
import math
import queue
import threading
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import torch

from . import synthav_render as R
from .rng import ClipRandom, name_key

SHAPES = ("square", "disk", "triangle", "cross", "ring")
DIGIT_SHAPES = tuple(f"digit {d}" for d in range(10))
MATERIALS = ("red", "green", "blue", "yellow", "magenta", "cyan")
SOUNDS = ("sine", "reed", "saw", "bell", "fm", "noise band")   # timbre of each material
TEXTURES = ("stripes", "checker", "gradient")
MOTIONS = ("right", "left", "down", "up", "rotate_cw", "rotate_ccw", "grow", "shrink",
           "appear", "disappear", "bounce", "static", "occluded")
REVERSAL_PAIRS = (("right", "left"), ("down", "up"), ("rotate_cw", "rotate_ccw"),
                  ("grow", "shrink"), ("appear", "disappear"))
TASKS = ("appearance", "motion", "sound", "av_event")
SPLITS = ("pretrain", "train", "val", "test")
IMAGE_SETS = ("frames", "unrelated")
MAX_OBJECTS = 3
GENERATOR_VERSION = 1            # bump whenever the generated content changes

# Object dynamics (kinds). A motion class is a kind of the actor plus a playing direction.
STATIC, SLIDE_X, SLIDE_Y, ROTATE, GROW, APPEAR, BOUNCE, PASS = range(8)
_MOTION_KIND = (SLIDE_X, SLIDE_X, SLIDE_Y, SLIDE_Y, ROTATE, ROTATE, GROW, GROW, APPEAR, APPEAR,
                BOUNCE, STATIC, STATIC)
_MOTION_REVERSED = (0, 1, 0, 1, 0, 1, 0, 1, 0, 1, -1, -1, -1)   # -1: played either way at random
_DISTRACTOR_KINDS = (STATIC, SLIDE_X, SLIDE_Y, ROTATE, BOUNCE)
OCCLUDED = MOTIONS.index("occluded")

ACTOR_SCALE = (0.20, 0.26)       # half-size of the actor (fraction of the frame side)
DISTRACTOR_SCALE = (0.10, 0.14)
OCCLUDER_SCALE = (0.13, 0.17)
GROW_FROM = 0.6                  # grow: half-size goes from 0.6 s to s
CONTACT = 0.8                    # two objects touch when centres are closer than 0.8 (s_i + s_j)


@dataclass(frozen=True)
class SynthAVConfig:
    """What to generate. Sizes usually come from a profile (:meth:`from_profile`)."""

    frames: int = 8
    image_size: int = 32
    fps: float = 8.0
    sample_rate: int = 16000
    n_pretrain: int = 2048
    n_train: int = 1024
    n_val: int = 256
    n_test: int = 512
    n_images: int = 2048                 # size of each single-image set ("frames", "unrelated")
    audio_snr_db: float = 20.0           # background noise relative to the clip's signal power
    seed: int = 0                        # base seed of all splits
    object_count_probs: tuple = (0.2, 0.4, 0.4)   # P(1), P(2), P(3) objects
    digits: bool = False                 # add the ten sklearn 8x8 digits as extra shapes
    sounding: str = "random"             # "random" object among those present, or "actor"
    audio_position: bool = True          # False: pitch / AM are random constants (no x, y in audio)
    downsample: int = 1                  # video degradation: area-downsample then bilinear upsample
    blur_sigma: float = 0.0              # video degradation: Gaussian blur (pixels)
    pixel_noise: float = 0.0             # video degradation: additive Gaussian noise std
    random_orientation: bool = False     # False: the actor starts upright; True: at a random angle

    def __post_init__(self):
        if self.sounding not in ("random", "actor"):
            raise ValueError(f"sounding must be 'random' or 'actor', not {self.sounding!r}")
        if len(self.object_count_probs) != MAX_OBJECTS or abs(sum(self.object_count_probs) - 1) > 1e-6:
            raise ValueError(f"object_count_probs must be {MAX_OBJECTS} probabilities summing to 1")
        if self.frames < 2:
            raise ValueError("a clip needs at least 2 frames")

    @classmethod
    def from_profile(cls, profile, **overrides) -> "SynthAVConfig":
        """Sizes of ``profile`` (a :class:`~maskedav.profiles.Profile`, its ``.data`` or a profile name)."""
        from ..profiles import get_profile

        data = get_profile(profile).data if isinstance(profile, str) else getattr(profile, "data", profile)
        fields = dict(frames=data.frames, image_size=data.image_size, fps=data.fps,
                      sample_rate=data.sample_rate, n_pretrain=data.n_pretrain, n_train=data.n_train,
                      n_val=data.n_val, n_test=data.n_test, n_images=max(data.n_train, 1),
                      audio_snr_db=data.audio_snr_db)
        fields.update(overrides)
        return cls(**fields)

    def with_(self, **changes) -> "SynthAVConfig":
        return replace(self, **changes)

    @property
    def clip_seconds(self) -> float:
        return self.frames / self.fps

    @property
    def num_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def shapes(self) -> tuple:
        return SHAPES + DIGIT_SHAPES if self.digits else SHAPES

    def size(self, split: str) -> int:
        sizes = dict(pretrain=self.n_pretrain, train=self.n_train, val=self.n_val, test=self.n_test,
                     frames=self.n_images, unrelated=self.n_images)
        if split not in sizes:
            raise ValueError(f"unknown split {split!r}; choose one of {SPLITS + IMAGE_SETS}")
        return sizes[split]

    def to_dict(self) -> dict:
        """The fields plus ``generator_version`` (so caches keyed by it expire when the generator changes)."""
        return dict(asdict(self), generator_version=GENERATOR_VERSION)


def class_names(task: str, cfg: SynthAVConfig | None = None) -> tuple[str, ...]:
    """Names of the classes of ``task`` (index = label)."""
    cfg = cfg or SynthAVConfig()
    if task == "appearance":
        return cfg.shapes
    if task == "motion":
        return MOTIONS
    if task == "sound":
        return tuple(f"{s} ({m})" for s, m in zip(SOUNDS, MATERIALS))
    if task == "av_event":
        return tuple(f"{s} sounding" for s in cfg.shapes)
    raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")


def num_classes(task: str, cfg: SynthAVConfig | None = None) -> int:
    return len(class_names(task, cfg))


def reversal_pair_labels() -> list[tuple[int, int]]:
    """``[(label, reversed label), ...]`` of the motion task."""
    return [(MOTIONS.index(a), MOTIONS.index(b)) for a, b in REVERSAL_PAIRS]


def split_seed(cfg: SynthAVConfig, split: str) -> int:
    """The seed stream of a split (distinct per split and per ``cfg.seed``)."""
    cfg.size(split)  # validates the name
    return name_key(f"synthav/{cfg.seed}/{split}")


@lru_cache(maxsize=None)
def _digit_table() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """sklearn's 1797 8x8 digits as ink in [0, 1], sorted by class; plus per-class start and count."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = digits.target.argsort(kind="stable")
    images = torch.tensor(digits.images[order] / 16.0, dtype=torch.float32)
    counts = torch.bincount(torch.tensor(digits.target[order]), minlength=10)
    starts = torch.cumsum(counts, 0) - counts
    return images, starts, counts


def _digit_sprites(device) -> torch.Tensor:
    return _digit_table()[0].to(device)


# --------------------------------------------------------------------------------- scene sampling

def _lerp(lo_hi, u):
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * u


def _background_params(r: ClipRandom, unrelated: bool) -> dict:
    B = len(r.indices)
    G = 3
    if unrelated:   # a different distribution: bright, strongly tinted, fine gratings
        grey, tint, freq, amp = _lerp((0.55, 0.85), r.uniform("bg_grey")), 0.2, (5.0, 9.0), (0.08, 0.15)
    else:
        grey, tint, freq, amp = _lerp((0.25, 0.55), r.uniform("bg_grey")), 0.06, (1.0, 4.0), (0.03, 0.08)
    base = grey[:, None] + tint * (2 * r.uniform("bg_tint", 3) - 1)
    a = _lerp(amp, r.uniform("bg_amp", G))
    return dict(
        base=base,
        freq=_lerp(freq, r.uniform("bg_freq", G)),
        orient=math.pi * r.uniform("bg_orient", G),
        phase=2 * math.pi * r.uniform("bg_phase", G),
        amp=a[:, :, None] * (0.85 + 0.3 * r.uniform("bg_colour", G, 3)),
    )


def _bounce_track(r: ClipRandom, s0, T):
    """Straight motion folded at the walls, with one wall hit guaranteed mid-clip.

    Returns positions ``(B, N, T)`` x2 and bounce events ``(B, N, T)``: frame ``k`` has an event when
    a wall is hit during ``[k - 0.5, k + 0.5)``.
    """
    B, N = s0.shape
    device = s0.device
    lo, span = s0, 1 - 2 * s0
    wall = r.randint("bounce_wall", 4, N)                                        # left right top bottom
    normals = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]], device=device)[wall]
    beta = (r.uniform("bounce_angle", N) - 0.5) * (2 * math.pi / 3)              # within 60 deg of the normal
    dx = normals[..., 0] * torch.cos(beta) - normals[..., 1] * torch.sin(beta)
    dy = normals[..., 0] * torch.sin(beta) + normals[..., 1] * torch.cos(beta)
    speed = _lerp((0.6, 1.0), r.uniform("bounce_speed", N)) / (T - 1)            # per frame
    t_hit = _lerp((0.25, 0.75), r.uniform("bounce_time", N)) * (T - 1)
    along = lo + span * r.uniform("bounce_along", N)
    x_hit = torch.where(wall == 0, lo, torch.where(wall == 1, lo + span, along))
    y_hit = torch.where(wall == 2, lo, torch.where(wall == 3, lo + span, along))

    def unfolded(p_hit, d, t):
        return p_hit[..., None] + (d * speed)[..., None] * (t - t_hit[..., None])

    def fold(z):
        z = torch.remainder(z - lo[..., None], 2 * span[..., None])
        return lo[..., None] + span[..., None] - (span[..., None] - z).abs()

    def cell(z):
        return torch.floor((z - lo[..., None]) / span[..., None])

    t = torch.arange(T, device=device, dtype=torch.float32)
    events = torch.zeros(B, N, T, dtype=torch.bool, device=device)
    for p_hit, d in ((x_hit, dx), (y_hit, dy)):
        events |= cell(unfolded(p_hit, d, t - 0.5)) != cell(unfolded(p_hit, d, t + 0.5))
    return fold(unfolded(x_hit, dx, t)), fold(unfolded(y_hit, dy, t)), events


def sample_scenes(cfg: SynthAVConfig, split: str, indices, device=None, *, frames: int | None = None,
                  static: bool = False, unrelated_background: bool = False, motion=None) -> dict:
    """Scene tensors of clips ``indices`` of ``split``: per-object tracks, attributes and labels.

    ``static=True`` keeps every object still (used for the unrelated-image set). ``motion`` forces
    the actor's motion class (an int or a ``(B,)`` tensor; for tests and figures): everything else
    about the clip stays the same, so forcing the two members of a reversal pair gives a clip and
    the same clip played backwards.
    """
    idx = torch.as_tensor(indices, dtype=torch.int64, device=device).reshape(-1)
    device = idx.device
    r = ClipRandom(split_seed(cfg, split), idx)
    B, N, T = len(idx), MAX_OBJECTS, frames or cfg.frames
    slot = torch.arange(N, device=device)
    is_actor = slot == 0

    forced = motion
    motion = r.randint("motion", len(MOTIONS))
    if forced is not None:
        motion = torch.as_tensor(forced, device=device).expand(B).long()
    if static:
        motion = torch.full_like(motion, MOTIONS.index("static"))
    rev_table = torch.tensor(_MOTION_REVERSED, device=device)[motion]
    reversed_ = torch.where(rev_table < 0, r.bernoulli("reverse", 0.5), rev_table == 1)

    cdf = torch.cumsum(torch.tensor(cfg.object_count_probs, device=device), 0)
    n_obj = 1 + (r.uniform("count")[:, None] >= cdf[None, :-1]).sum(1)
    n_obj = torch.where(motion == OCCLUDED, n_obj.clamp(min=2), n_obj)
    present = slot[None] < n_obj[:, None]

    shape = r.permutation("shape", len(cfg.shapes))[:, :N]
    material = r.permutation("material", len(MATERIALS))[:, :N]
    texture = r.randint("texture", len(TEXTURES), N)
    digit_index = torch.full_like(shape, -1)
    if cfg.digits:
        _, starts, counts = _digit_table()
        digit = (shape - len(SHAPES)).clamp(min=0)
        instance = r.randint("digit_instance", counts.to(device)[digit], N)
        digit_index = torch.where(shape >= len(SHAPES), starts.to(device)[digit] + instance, digit_index)

    s0 = torch.where(is_actor, _lerp(ACTOR_SCALE, r.uniform("scale", N)), _lerp(DISTRACTOR_SCALE, r.uniform("scale", N)))
    kind = torch.where(is_actor, torch.tensor(_MOTION_KIND, device=device)[motion][:, None],
                       torch.tensor(_DISTRACTOR_KINDS, device=device)[r.randint("distractor_kind", len(_DISTRACTOR_KINDS), N)])
    if static:
        kind = torch.full_like(kind, STATIC)
    occluded = (motion == OCCLUDED)[:, None] & (slot == 1)
    kind = torch.where(occluded, torch.full_like(kind, PASS), kind)
    s0 = torch.where(occluded, _lerp(OCCLUDER_SCALE, r.uniform("occluder_scale"))[:, None], s0)
    sign = torch.where(is_actor | r.bernoulli("direction", 0.5, N), 1.0, -1.0)

    # canonical tracks (B, N, T) for every kind, then pick each object's kind
    lo, span = s0, 1 - 2 * s0
    pos = lo[..., None] + span[..., None] * r.uniform("position", N, 2)
    tau = torch.arange(T, device=device, dtype=torch.float32) / (T - 1)
    k = lambda kind_id: (kind == kind_id)[..., None]  # noqa: E731
    cx = pos[..., 0, None].expand(B, N, T)
    cy = pos[..., 1, None].expand(B, N, T)
    scale = s0[..., None].expand(B, N, T)
    angle0 = 2 * math.pi * r.uniform("angle", N)
    if not cfg.random_orientation:   # the actor stands upright (rotate_* classes turn it from upright)
        angle0 = torch.where(is_actor, 0.0, angle0)
    angle = angle0[..., None].expand(B, N, T)
    visible = present[..., None].expand(B, N, T)

    length = span * _lerp((0.6, 0.95), r.uniform("slide_length", N))
    start = lo + (span - length) * r.uniform("slide_start", N)
    slide = start[..., None] + length[..., None] * torch.where(sign[..., None] > 0, tau, 1 - tau)
    cx = torch.where(k(SLIDE_X), slide, cx)
    cy = torch.where(k(SLIDE_Y), slide, cy)
    omega = sign * _lerp((math.pi / 3, 2 * math.pi / 3), r.uniform("rotation", N))
    angle = torch.where(k(ROTATE), angle0[..., None] + omega[..., None] * tau, angle)
    scale = torch.where(k(GROW), s0[..., None] * (GROW_FROM + (1 - GROW_FROM) * tau), scale)
    first, last = math.ceil(T / 4), math.floor(3 * T / 4)
    appear_at = first + r.randint("appear_frame", last - first + 1)
    frame_ids = torch.arange(T, device=device)
    visible = torch.where(k(APPEAR), present[..., None] & (frame_ids >= appear_at[:, None, None]), visible)
    bx, by, bounce_events = _bounce_track(r, s0, T)
    cx = torch.where(k(BOUNCE), bx, cx)
    cy = torch.where(k(BOUNCE), by, cy)
    bounce_events = bounce_events & k(BOUNCE) & visible
    # the occluder passes over the actor's centre mid-clip
    heading = 2 * math.pi * r.uniform("pass_heading")
    travel = _lerp((0.7, 1.0), r.uniform("pass_travel"))
    t_cross = _lerp((0.35, 0.65), r.uniform("pass_time"))
    offset = travel[:, None] * (tau[None] - t_cross[:, None])                  # (B, T)
    cx = torch.where(k(PASS), (pos[:, 0, 0, None] + torch.cos(heading)[:, None] * offset)[:, None], cx)
    cy = torch.where(k(PASS), (pos[:, 0, 1, None] + torch.sin(heading)[:, None] * offset)[:, None], cy)

    # play backwards: every object and its events
    flip = reversed_[:, None, None]
    cx, cy, scale, angle, visible, bounce_events = (
        torch.where(flip, a.flip(-1), a) for a in (cx, cy, scale, angle, visible, bounce_events))

    # the sounding object and its audible events
    if cfg.sounding == "actor":
        sounding = torch.zeros(B, dtype=torch.long, device=device)
    else:
        sounding = r.randint("sounding", n_obj)
    pick = lambda a: a[torch.arange(B, device=device), sounding]  # noqa: E731
    s_vis = pick(visible)
    prev = lambda a: torch.cat([a[:, :1], a[:, :-1]], dim=1)  # noqa: E731  value at the previous frame
    appear_events = s_vis & ~prev(s_vis)
    dist = torch.sqrt((cx - pick(cx)[:, None]) ** 2 + (cy - pick(cy)[:, None]) ** 2)
    touching = (dist < CONTACT * (scale + pick(scale)[:, None])) & visible & s_vis[:, None]
    touching &= slot[None, :, None] != sounding[:, None, None]
    contact = touching.any(dim=1)
    collision_events = contact & ~prev(contact)
    events = pick(bounce_events) | appear_events | collision_events

    order = torch.tensor([2, 1, 0], device=device).expand(B, N)
    order = torch.where((motion == OCCLUDED)[:, None], torch.tensor([2, 0, 1], device=device), order)

    audio_x, audio_y = pick(cx), pick(cy)
    if not cfg.audio_position:
        const = r.uniform("audio_constant_xy", 2)
        audio_x = const[:, :1].expand(B, T)
        audio_y = const[:, 1:].expand(B, T)

    labels = dict(
        appearance=shape[:, 0],
        motion=motion,
        sound=pick(material),
        av_event=pick(shape),
    )
    return dict(
        index=idx, labels=labels, n_objects=n_obj, present=present, reversed=reversed_,
        shape=shape, material=material, texture=texture, tex_phase=2 * math.pi * r.uniform("texture_phase", N),
        digit_index=digit_index, kind=kind, cx=cx, cy=cy, scale=scale, angle=angle, visible=visible,
        order=order, sounding=sounding, events=events,
        audio_track=dict(x=audio_x, y=audio_y, scale=pick(scale), visible=s_vis, events=events,
                         material=pick(material)),
        background=_background_params(r, unrelated_background),
        random=r,
    )


# ------------------------------------------------------------------------------------ generation

def _render_video(cfg: SynthAVConfig, scene: dict):
    sprites = _digit_sprites(scene["cx"].device) if cfg.digits else None
    alpha, colour = R.object_layers(scene, cfg.image_size, sprites)
    bg = R.background(scene["background"], cfg.image_size)
    video, cover = R.composite(bg, alpha, colour, scene["order"], scene["sounding"])
    if cfg.downsample > 1 or cfg.blur_sigma > 0 or cfg.pixel_noise > 0:
        seeds = scene["random"].seeds("pixel_noise") if cfg.pixel_noise > 0 else None
        video = R.degrade(video, cfg.downsample, cfg.blur_sigma, cfg.pixel_noise, seeds)
    return video.contiguous(), cover > 0.5


GENERATION_CHUNK = 64


def _cat(parts: list):
    if isinstance(parts[0], dict):
        return {k: _cat([p[k] for p in parts]) for k in parts[0]}
    return torch.cat(parts)


def generate(cfg: SynthAVConfig, split: str, indices, device=None, *, audio: bool = True, motion=None) -> dict:
    """Clips ``indices`` of ``split``, generated together (one vectorised pass).

    Returns ``video (B, 3, T, H, W)`` float in [0, 1], ``audio (B, S)`` float in [-1, 1],
    ``labels`` (a dict of ``(B,)`` long tensors, one per task), ``source_mask (B, T, H, W)`` bool
    (visible pixels of the sounding object), ``index (B,)`` and ``meta``: per-clip facts for tests
    and figures (object tracks, sounding slot, audio event frames, pitch per frame, ...).
    ``motion`` forces the actor's motion class (see :func:`sample_scenes`).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS} (images: generate_images)")
    idx = torch.as_tensor(indices, dtype=torch.int64, device=device).reshape(-1)
    if len(idx) > GENERATION_CHUNK:  # big batches in cache-sized pieces (same bits, faster on CPU)
        if motion is not None and torch.as_tensor(motion).dim() > 0:
            raise ValueError("a per-clip motion tensor needs batches of at most GENERATION_CHUNK clips")
        return _cat([generate(cfg, split, idx[a:a + GENERATION_CHUNK], device, audio=audio, motion=motion)
                     for a in range(0, len(idx), GENERATION_CHUNK)])
    scene = sample_scenes(cfg, split, idx, device, motion=motion)
    video, source_mask = _render_video(cfg, scene)
    out = dict(video=video, labels=scene["labels"], source_mask=source_mask, index=scene["index"])
    if audio:
        out["audio"] = R.render_audio(scene["audio_track"], sample_rate=cfg.sample_rate, fps=cfg.fps,
                                      num_samples=cfg.num_samples, snr_db=cfg.audio_snr_db,
                                      noise_seeds=scene["random"].seeds("audio_noise"))
    track = scene["audio_track"]
    out["meta"] = dict(
        n_objects=scene["n_objects"], sounding=scene["sounding"], reversed=scene["reversed"],
        events=scene["events"], present=scene["present"], shape=scene["shape"],
        material=scene["material"], texture=scene["texture"], kind=scene["kind"],
        cx=scene["cx"], cy=scene["cy"], scale=scene["scale"], angle=scene["angle"],
        visible=scene["visible"], pitch_hz=R.pitch_hz(track["y"]), am_rate_hz=R.am_rate_hz(track["x"]),
    )
    return out


def generate_images(cfg: SynthAVConfig, kind: str, indices, device=None) -> dict:
    """Single images ``(B, 3, H, W)`` with their ``appearance`` labels.

    ``kind="frames"``: one frame (where the actor is visible) of clips from their own seed stream:
    the image teacher's / frame branch's data. ``kind="unrelated"``: static objects on a different
    background distribution, never part of a clip (CrossVideoMAE's unrelated-image ablation).
    """
    if kind not in IMAGE_SETS:
        raise ValueError(f"unknown image set {kind!r}; choose one of {IMAGE_SETS}")
    if kind == "frames":
        scene = sample_scenes(cfg, "frames", indices, device)
        actor_visible = scene["visible"][:, 0]                              # (B, T)
        score = scene["random"].uniform("frame_pick", cfg.frames) * actor_visible
        t = score.argmax(dim=1)
        for key in ("cx", "cy", "scale", "angle", "visible"):
            scene[key] = scene[key].gather(2, t[:, None, None].expand(-1, MAX_OBJECTS, 1))
    else:
        scene = sample_scenes(cfg, "unrelated", indices, device, frames=2, static=True,
                              unrelated_background=True)
        for key in ("cx", "cy", "scale", "angle", "visible"):
            scene[key] = scene[key][..., :1]
    video, _ = _render_video(cfg, scene)
    return dict(image=video[:, :, 0], labels=dict(appearance=scene["labels"]["appearance"]),
                index=scene["index"])


# ------------------------------------------------------------------------ datasets and batching

def _select(batch: dict, task: str | None, labels: bool) -> dict:
    out = dict(video=batch["video"], audio=batch["audio"], source_mask=batch["source_mask"],
               index=batch["index"])
    if labels:
        out["labels"] = batch["labels"]
        if task is not None:
            out["label"] = batch["labels"][task]
    return out


_CACHE: dict = {}


def materialize(cfg: SynthAVConfig, split: str, device=None, *, chunk: int = 256) -> dict:
    """The whole split as tensors (memoised per ``(cfg, split, device)``; :func:`clear_cache` frees)."""
    key = (cfg, split, str(torch.device(device or "cpu")))
    if key not in _CACHE:
        n = cfg.size(split)
        parts = [generate(cfg, split, range(a, min(a + chunk, n)), device) for a in range(0, n, chunk)]
        _CACHE[key] = dict(
            video=torch.cat([p["video"] for p in parts]), audio=torch.cat([p["audio"] for p in parts]),
            source_mask=torch.cat([p["source_mask"] for p in parts]),
            index=torch.cat([p["index"] for p in parts]),
            labels={t: torch.cat([p["labels"][t] for p in parts]) for t in TASKS})
    return _CACHE[key]


def clear_cache() -> None:
    _CACHE.clear()


def _clip_bytes(cfg: SynthAVConfig) -> int:
    return 4 * (3 * cfg.frames * cfg.image_size ** 2 + cfg.num_samples) + cfg.frames * cfg.image_size ** 2


class SynthAV(torch.utils.data.Dataset):
    """Map-style dataset over one split; items are single clips (``video (3, T, H, W)``, ...).

    For training use :meth:`loader`, which generates whole batches at once. ``pretrain`` is
    unlabeled: its items carry no labels unless ``labels=True``.
    """

    def __init__(self, cfg: SynthAVConfig, split: str, *, task: str | None = None,
                 labels: bool | None = None, device=None):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
        if task is not None and task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")
        self.cfg, self.split, self.task, self.device = cfg, split, task, device
        self.labels = (split != "pretrain") if labels is None else labels

    def __len__(self) -> int:
        return self.cfg.size(self.split)

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < len(self):
            raise IndexError(f"clip {i} out of range for split {self.split!r} of size {len(self)}")
        batch = _select(generate(self.cfg, self.split, [i], self.device), self.task, self.labels)
        return {k: ({t: x[0] for t, x in v.items()} if isinstance(v, dict) else v[0]) for k, v in batch.items()}

    def loader(self, batch_size: int, **kwargs) -> "SynthAVLoader":
        return SynthAVLoader(self.cfg, self.split, batch_size, task=self.task, labels=self.labels,
                             device=self.device, **kwargs)


class SynthAVLoader:
    """Batches of a split, generated whole. Iterating once is one epoch (reshuffled per epoch).

    ``cache="auto"`` keeps the split in memory when it takes under ``cache_limit_bytes`` (the CPU
    profiles), so an epoch is only indexing; otherwise batches are generated by a background
    thread ``prefetch`` batches ahead, so a training step does not wait for generation.
    """

    def __init__(self, cfg: SynthAVConfig, split: str, batch_size: int, *, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False, device=None, task: str | None = None,
                 labels: bool | None = None, cache="auto", cache_limit_bytes: int = 2 ** 30,
                 prefetch: int = 2):
        self.cfg, self.split, self.batch_size = cfg, split, batch_size
        self.shuffle, self.seed, self.drop_last, self.device = shuffle, seed, drop_last, device
        self.task = task
        self.labels = (split != "pretrain") if labels is None else labels
        n = cfg.size(split)
        self.cache = (n * _clip_bytes(cfg) <= cache_limit_bytes) if cache == "auto" else bool(cache)
        self.prefetch = prefetch
        self.epoch = 0

    def __len__(self) -> int:
        n = self.cfg.size(self.split)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> list[torch.Tensor]:
        """Clip indices of this epoch's batches (a fresh permutation per epoch when shuffling)."""
        n = self.cfg.size(self.split)
        if self.shuffle:
            gen = torch.Generator().manual_seed(name_key(f"loader/{self.seed}/{self.epoch}"))
            order = torch.randperm(n, generator=gen)
        else:
            order = torch.arange(n)
        chunks = list(order.split(self.batch_size))
        if self.drop_last and chunks and len(chunks[-1]) < self.batch_size:
            chunks = chunks[:-1]
        return chunks

    def __iter__(self):
        chunks = self._order()
        self.epoch += 1
        if self.cache:
            data = materialize(self.cfg, self.split, self.device)
            for ids in chunks:
                dev_ids = ids.to(data["video"].device)
                batch = dict(video=data["video"][dev_ids], audio=data["audio"][dev_ids],
                             source_mask=data["source_mask"][dev_ids], index=data["index"][dev_ids],
                             labels={t: v[dev_ids] for t, v in data["labels"].items()})
                yield _select(batch, self.task, self.labels)
            return
        yield from self._prefetched(chunks)

    def _prefetched(self, chunks):
        q: queue.Queue = queue.Queue(maxsize=max(1, self.prefetch))
        stop = threading.Event()

        def work():
            try:
                for ids in chunks:
                    if stop.is_set():
                        return
                    q.put(_select(generate(self.cfg, self.split, ids, self.device), self.task, self.labels))
                q.put(None)
            except BaseException as err:  # surfaced in the consumer
                q.put(err)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            while (item := q.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.05)


# ---------------------------------------------------------------------------------------- export

def export(cfg: SynthAVConfig, split: str, indices, folder, *, crf: int = 12) -> list[Path]:
    """Write clips as real ``.mp4`` files (H.264 video + AAC audio) plus ``labels.csv``.

    The files decode back (:func:`maskedav.data.media.read_video` / ``read_audio``) to the generated
    content within codec tolerance, so the real-data decoding path can be run on SynthAV.
    """
    from .media import write_video

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clips = generate(cfg, split, indices)
    paths = []
    rows = []
    for b, index in enumerate(clips["index"].tolist()):
        path = folder / f"{split}_{index:06d}.mp4"
        write_video(path, clips["video"][b], clips["audio"][b], fps=cfg.fps, sample_rate=cfg.sample_rate,
                    crf=crf)
        paths.append(path)
        rows.append(dict(file=path.name, split=split, index=index,
                         **{t: int(clips["labels"][t][b]) for t in TASKS},
                         n_objects=int(clips["meta"]["n_objects"][b]),
                         sounding=int(clips["meta"]["sounding"][b])))
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return paths
