"""SynthAV rendering: scene tensors (from :func:`maskedav.data.synthav.sample_scenes`) to pixels and samples.

Everything here is elementwise or reduces along a clip's own axes, so a clip renders to the same
bits whatever batch it is in. Units: positions and sizes are fractions of the frame side,
``(cx, cy)`` with ``y`` pointing down; an object's local frame ``(u, v)`` spans [-1, 1] and its
shape fits inside the unit disk, so an object with half-size ``scale`` stays in the frame when its
centre is in ``[scale, 1 - scale]``.

Sound of the sounding object (16 kHz mono by default):

* timbre = its material (= its colour): sine, reed (odd harmonics), saw (all harmonics), bell
  (inharmonic partials), FM, noise band;
* pitch f0 = 200 * 2**(2 * (1 - y)) Hz: a glide that follows its vertical position (top = 800 Hz);
* amplitude modulation with rate 3 + 10 x Hz and depth 0.2 + 0.6 x: follows its horizontal position;
* loudness proportional to its size; silent while invisible (appear / disappear);
* an onset (a decaying strike of the same timbre, 40 ms, plus a click) at the start of each frame
  with an event (bounce, appear, collision);
* white background noise at the configured SNR relative to the clip's signal power.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .rng import per_clip_normal

# Material colours (RGB in [0, 1]); the material also fixes the timbre (see SOUND_TABLE).
MATERIAL_RGB = torch.tensor([
    [0.92, 0.16, 0.14],   # red      -> sine
    [0.18, 0.80, 0.22],   # green    -> reed
    [0.20, 0.35, 0.98],   # blue     -> saw
    [0.98, 0.86, 0.12],   # yellow   -> bell
    [0.88, 0.22, 0.86],   # magenta  -> FM
    [0.12, 0.86, 0.90],   # cyan     -> noise band
])

# Additive partials per material: frequency ratios and amplitudes (rows follow MATERIAL_RGB).
PARTIAL_RATIOS = torch.tensor([
    [1.0, 2.0, 3.0, 4.0],
    [1.0, 3.0, 5.0, 7.0],
    [1.0, 2.0, 3.0, 4.0],
    [1.0, 2.76, 5.40, 8.93],
    [1.0, 1.0, 1.0, 1.0],
    [1.0, 1.0, 1.0, 1.0],
])
PARTIAL_AMPS = torch.tensor([
    [1.0, 0.0, 0.0, 0.0],
    [1.0, 0.55, 0.35, 0.22],
    [1.0, 0.5, 0.33, 0.25],
    [1.0, 0.7, 0.5, 0.3],
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0],
])
FM_MATERIAL, NOISE_MATERIAL = 4, 5
FM_RATIO, FM_INDEX = 1.41, 2.0

PITCH_LOW_HZ, PITCH_OCTAVES = 200.0, 2.0
SUSTAIN_LEVEL, STRIKE_LEVEL, ONSET_TAU_S = 0.12, 0.24, 0.04
CLICK_LEVEL, CLICK_TAU_S = 0.12, 0.006
RAMP_S = 0.005
REFERENCE_SCALE = 0.2   # half-size at which the loudness gain is 1


def pitch_hz(y: torch.Tensor) -> torch.Tensor:
    """Fundamental frequency for vertical position ``y`` (0 = top, 1 = bottom)."""
    return PITCH_LOW_HZ * torch.exp2(PITCH_OCTAVES * (1.0 - y.clamp(0.0, 1.0)))


def am_rate_hz(x: torch.Tensor) -> torch.Tensor:
    return 3.0 + 10.0 * x.clamp(0.0, 1.0)


def am_depth(x: torch.Tensor) -> torch.Tensor:
    return 0.2 + 0.6 * x.clamp(0.0, 1.0)


# ----------------------------------------------------------------------------------------- video

def _shape_sdf(shape: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Signed distance (local units, negative inside) of the 5 geometric shapes, chosen per object."""
    au, av = u.abs(), v.abs()
    r = torch.sqrt(u * u + v * v)
    sdf = torch.maximum(au, av) - 0.72                                          # 0 square
    sdf = torch.where(shape == 1, r - 0.9, sdf)                                  # 1 disk
    tri = torch.maximum(torch.maximum(v, 0.866 * u - 0.5 * v), -0.866 * u - 0.5 * v) - 0.5
    sdf = torch.where(shape == 2, tri, sdf)                                      # 2 triangle
    cross = torch.minimum(torch.maximum(au - 0.95, av - 0.3), torch.maximum(av - 0.95, au - 0.3))
    sdf = torch.where(shape == 3, cross, sdf)                                    # 3 cross
    sdf = torch.where(shape == 4, torch.maximum(r - 0.95, 0.55 - r), sdf)        # 4 ring
    return sdf


def _texture(texture: torch.Tensor, phase: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Brightness in [0.5, 1] painted in object coordinates (it rotates and scales with the object)."""
    cu = torch.cos(2 * math.pi * u + phase)
    stripes = 0.75 + 0.25 * cu
    checker = 0.75 + 0.25 * cu * torch.cos(2 * math.pi * v + phase)
    gradient = 0.5 + 0.25 * (u + 1.0)
    return torch.where(texture == 0, stripes, torch.where(texture == 1, checker, gradient))


def object_layers(scene: dict, image_size: int, digit_sprites: torch.Tensor | None):
    """Per-object alpha ``(B, N, T, H, W)`` and colour ``(B, N, 3, T, H, W)``."""
    cx, cy, scale, angle = scene["cx"], scene["cy"], scene["scale"], scene["angle"]
    B, N, T = cx.shape
    device = cx.device
    grid = (torch.arange(image_size, device=device, dtype=torch.float32) + 0.5) / image_size
    X = grid.view(1, 1, 1, 1, image_size)
    Y = grid.view(1, 1, 1, image_size, 1)
    e = lambda t: t[..., None, None]  # noqa: E731  (B, N, T) -> (B, N, T, 1, 1)
    dx = (X - e(cx)) / e(scale)
    dy = (Y - e(cy)) / e(scale)
    cos, sin = e(torch.cos(angle)), e(torch.sin(angle))
    u = cos * dx + sin * dy
    v = -sin * dx + cos * dy

    shape = scene["shape"][:, :, None, None, None]
    sdf = _shape_sdf(shape, u, v)
    alpha = (0.5 - sdf * e(scale) * image_size).clamp(0.0, 1.0)
    if digit_sprites is not None and bool((scene["digit_index"] >= 0).any()):
        sprites = digit_sprites[scene["digit_index"].clamp(min=0)].reshape(B * N, 1, 8, 8)
        sample_grid = torch.stack([u, v], dim=-1).reshape(B * N, T * image_size, image_size, 2)
        ink = F.grid_sample(sprites, sample_grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False).reshape(B, N, T, image_size, image_size)
        alpha = torch.where(shape >= 5, (ink * 1.6).clamp(0.0, 1.0), alpha)
    alpha = alpha * e(scene["visible"].to(alpha.dtype))

    bright = _texture(scene["texture"][:, :, None, None, None], scene["tex_phase"][:, :, None, None, None], u, v)
    rgb = MATERIAL_RGB.to(device)[scene["material"]]            # (B, N, 3)
    colour = rgb[:, :, :, None, None, None] * bright[:, :, None]  # (B, N, 3, T, H, W)
    return alpha, colour


def background(params: dict, image_size: int) -> torch.Tensor:
    """Static textured background ``(B, 3, H, W)``: a tinted base plus a few sinusoidal gratings."""
    device = params["base"].device
    grid = (torch.arange(image_size, device=device, dtype=torch.float32) + 0.5) / image_size
    X = grid.view(1, 1, 1, image_size)
    Y = grid.view(1, 1, image_size, 1)
    f, o, p = (params[k][:, :, None, None] for k in ("freq", "orient", "phase"))  # (B, G, 1, 1)
    waves = torch.cos(2 * math.pi * f * (X * torch.cos(o) + Y * torch.sin(o)) + p)  # (B, G, H, W)
    bg = params["base"][:, :, None, None] + torch.einsum("bgc,bghw->bchw", params["amp"], waves)
    return bg.clamp(0.0, 1.0)


def composite(bg: torch.Tensor, alpha: torch.Tensor, colour: torch.Tensor, order: torch.Tensor,
              sounding: torch.Tensor | None):
    """Paint objects over the background in ``order``; return video and the sounding object's coverage.

    ``order[b]`` lists object slots from bottom to top. The coverage is the sounding object's alpha
    times the transparency of every layer painted above it (what of it is actually visible).
    """
    B, N = order.shape
    T = alpha.shape[2]
    video = bg[:, :, None].expand(-1, -1, T, -1, -1)
    cover = torch.zeros_like(alpha[:, 0])
    if sounding is not None:
        pos_sounding = (order == sounding[:, None]).long().argmax(dim=1)  # layer index of the source
    for layer in range(N):
        slot = order[:, layer]
        a = alpha[torch.arange(B, device=alpha.device), slot]            # (B, T, H, W)
        c = colour[torch.arange(B, device=alpha.device), slot]           # (B, 3, T, H, W)
        video = video * (1.0 - a[:, None]) + c * a[:, None]
        if sounding is not None:
            is_source = (pos_sounding == layer).view(B, 1, 1, 1)
            above = (pos_sounding < layer).view(B, 1, 1, 1)
            cover = torch.where(is_source, a, cover)
            cover = torch.where(above, cover * (1.0 - a), cover)
    return video, cover


def _gaussian_blur(video: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(B, 3, T, H, W)`` frames, as weighted shifts (replicate padding)."""
    B, C, T, H, W = video.shape
    radius = max(1, int(math.ceil(2.5 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    weights = (weights / weights.sum()).tolist()
    padded = F.pad(video.reshape(B * C * T, 1, H, W), (radius,) * 4, mode="replicate")
    rows = sum(w * padded[..., :, k:k + W] for k, w in enumerate(weights))
    out = sum(w * rows[..., k:k + H, :] for k, w in enumerate(weights))
    return out.view(B, C, T, H, W)


def degrade(video: torch.Tensor, downsample: int, blur_sigma: float, pixel_noise: float,
            noise_seeds: list[int] | None) -> torch.Tensor:
    """Low-resolution / blurry / noisy versions of clean frames (the knobs of AV-MaskEnhancer C6)."""
    B, C, T, H, W = video.shape
    if downsample > 1:
        if H % downsample or W % downsample:
            raise ValueError(f"downsample factor {downsample} must divide the frame size {H}x{W}")
        small = video.reshape(B, C, T, H // downsample, downsample, W // downsample, downsample).mean(dim=(4, 6))
        video = F.interpolate(small.flatten(1, 2), size=(H, W), mode="bilinear",
                              align_corners=False).view(B, C, T, H, W)
    if blur_sigma > 0:
        video = _gaussian_blur(video, blur_sigma)
    if pixel_noise > 0:
        noise = per_clip_normal(noise_seeds, C * T * H * W, video.device).view_as(video)
        video = video + pixel_noise * noise
    return video.clamp(0.0, 1.0)


# ----------------------------------------------------------------------------------------- audio

class _FrameInterp:
    """Linear interpolation from per-frame values (at frame centres) to the sample times ``t``."""

    def __init__(self, t: torch.Tensor, fps: float, num_frames: int):
        f = (t * fps - 0.5).clamp(0.0, max(num_frames - 1.0, 0.0))
        self.k0 = f.floor().long().clamp(min=0, max=max(num_frames - 2, 0))
        self.w = (f - self.k0).unsqueeze(0)
        self.single = num_frames == 1

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.single:
            return x.expand(-1, self.k0.shape[0])
        a, b = x[:, self.k0], x[:, self.k0 + 1]
        return torch.lerp(a, b, self.w)


def _integrate(rate_hz: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Phase (radians) of an oscillator with instantaneous frequency ``rate_hz`` (float64 cumsum)."""
    phase = torch.cumsum(rate_hz.double(), dim=1) * (2 * math.pi / sample_rate)
    return torch.remainder(phase, 2 * math.pi * 64).float()  # keep sin() arguments small


def _smooth_noise(knots: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Low-pass noise: linear interpolation of sparse Gaussian knots to ``num_samples``."""
    K = knots.shape[1]
    pos = torch.linspace(0, K - 1, num_samples, device=knots.device)
    k0 = pos.floor().long().clamp(max=K - 2)
    w = pos - k0
    return knots[:, k0] * (1 - w) + knots[:, k0 + 1] * w


def render_audio(track: dict, *, sample_rate: int, fps: float, num_samples: int, snr_db: float,
                 noise_seeds: list[int]) -> torch.Tensor:
    """Waveform ``(B, S)`` in [-1, 1] from the sounding object's per-frame track.

    ``track`` holds ``(B, T)`` tensors ``x, y, scale, visible, events`` (position / size / visibility /
    onset frames of the sounding object) and ``material`` ``(B,)``.
    """
    device = track["x"].device
    B, T = track["x"].shape
    t = (torch.arange(num_samples, device=device, dtype=torch.float32) + 0.5) / sample_rate
    interp = _FrameInterp(t, fps, T)
    x, y = interp(track["x"]), interp(track["y"])
    gain = interp(track["scale"]) * (1.0 / REFERENCE_SCALE)

    # visibility gate: crosses 0.5 at frame boundaries, ramps over RAMP_S
    vis = interp(track["visible"].float())
    gate = ((vis - 0.5) * (1.0 / (fps * RAMP_S)) + 0.5).clamp(0.0, 1.0)

    # onsets at the start of each event frame: time since the last event
    frame_of_sample = (t * fps).floor().long().clamp(0, T - 1)
    frame_ids = torch.arange(T, device=device).expand(B, -1)
    last_event = torch.where(track["events"], frame_ids, torch.full_like(frame_ids, -1)).cummax(dim=1).values
    last = last_event[:, frame_of_sample]                                    # (B, S)
    since = t.unsqueeze(0) - last.clamp(min=0).float() / fps
    has_event = last >= 0
    onset = torch.where(has_event, torch.exp(-since / ONSET_TAU_S), torch.zeros_like(since))
    click_env = torch.where(has_event, torch.exp(-since / CLICK_TAU_S), torch.zeros_like(since))

    # timbre at pitch f0(y), computed only on the rows (clips) whose material uses it
    material = track["material"]
    phi = _integrate(pitch_hz(y), sample_rate)
    timbre = torch.empty_like(phi)
    noise = per_clip_normal(noise_seeds, 2 * num_samples, device)
    background_noise, click_noise = noise[:, :num_samples], noise[:, num_samples:]
    additive = (material < FM_MATERIAL).nonzero().squeeze(1)
    if len(additive):
        p = phi[additive]
        ratios = PARTIAL_RATIOS.to(device)[material[additive]]          # (b, 4)
        amps = PARTIAL_AMPS.to(device)[material[additive]]
        amps = amps / torch.sqrt((amps ** 2).sum(1, keepdim=True) / 2)  # unit RMS
        tone = amps[:, :1] * torch.sin(p)
        for k in range(1, 4):
            tone += amps[:, k, None] * torch.sin(ratios[:, k, None] * p)
        timbre[additive] = tone
    fm_rows = (material == FM_MATERIAL).nonzero().squeeze(1)
    if len(fm_rows):
        p = phi[fm_rows]
        timbre[fm_rows] = math.sqrt(2) * torch.sin(p + FM_INDEX * torch.sin(FM_RATIO * p))
    band_rows = (material == NOISE_MATERIAL).nonzero().squeeze(1)
    if len(band_rows):
        p = phi[band_rows]
        knots_per_clip = int(math.ceil(num_samples / sample_rate * 400)) + 2
        knots = per_clip_normal([noise_seeds[i] ^ 0x5EED for i in band_rows.tolist()], 2 * knots_per_clip, device)
        band = (_smooth_noise(knots[:, :knots_per_clip], num_samples) * torch.sin(1.5 * p)
                + 0.5 * _smooth_noise(knots[:, knots_per_clip:], num_samples) * torch.sin(3.0 * p))
        timbre[band_rows] = band * math.sqrt(3.0 / 1.25)  # unit RMS: knots interpolate to variance 2/3
    timbre *= 1.0 / math.sqrt(2)

    am = 1.0 - am_depth(x) * 0.5 * (1.0 - torch.cos(_integrate(am_rate_hz(x), sample_rate)))
    # a sustained tone (amplitude-modulated) plus a strike at each onset (not modulated)
    signal = gain * gate * (SUSTAIN_LEVEL * am + STRIKE_LEVEL * onset) * timbre
    signal = signal + CLICK_LEVEL * gate * click_env * click_noise

    power = (signal * signal).mean(dim=1, keepdim=True)
    noise_std = torch.sqrt(power) * (10.0 ** (-snr_db / 20.0))
    return (signal + noise_std * background_noise).clamp(-1.0, 1.0)
