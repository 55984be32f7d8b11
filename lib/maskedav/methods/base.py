"""What every pre-training method shares: the inspection API and the pixel masked autoencoder.

A method (docs/conventions.md, "Methods") is an ``nn.Module`` with ``forward(batch) -> (loss, logs)``,
an ``.encoder`` and a config dataclass. :class:`PretrainMethod` adds the API that figures and people in
JupyterLab use on any of them:

* ``reconstruct(batch, mask=None) -> dict`` — the prediction un-patchified to the input space and
  de-normalised for display (norm-pix targets are mapped back with the statistics of the true patch, as
  VideoMAE's ``run_videomae_vis.py`` does), the visible input pasted over it, the mask used and the
  per-sample masked-patch MSE (in the loss's normalised space, i.e. what the loss averages);
* ``attention_maps(batch, layer, head=None, query=None)`` — softmax attention of one encoder block;
* ``features(batch, layers=None)`` — per-layer (pre-norm) token taps of the encoder;
* ``embed(batch)`` — the pooled ``(B, D)`` representation the linear probes use.

Masks are boolean, True = masked; a method draws them from its own ``torch.Generator`` (``self.generator``,
seeded by ``config.seed``; the training engine saves and restores its state) unless one is passed in
(a :class:`maskedav.masking.Mask` or a ``(B, N)`` bool tensor — e.g. fixed held-out masks).

:class:`MaskedPixelAutoencoder` is MAE's recipe (He et al. 2022, Sec. 3) for one modality:
``latent = encoder(x_visible)``, ``pred = decoder(latent, mask)``, loss = MSE on the **masked** patches of
the (norm-pix) target (MAE's "loss on removed patches"; VideoMAE Eq. 2). :mod:`.mae`, :mod:`.videomae` and
:mod:`.audiomae` are this class with a modality "space" (how a batch becomes model input, targets and
pictures) and a mask generator.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Sequence

import matplotlib
import torch
from torch import nn

from maskedav.configs import ViTConfig, check_fraction
from maskedav.losses import (masked_mse, patchify_image, patchify_video, unpatchify_image,
                             unpatchify_video)
from maskedav.masking import Mask, mask_from_bool

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "MethodConfig", "PretrainMethod", "MaskedPixelAutoencoder",
    "ImageSpace", "VideoSpace", "SpectrogramSpace", "as_mask", "norm_pix_stats",
    "denormalize_prediction", "per_sample_masked_mse", "spectrogram_to_rgb", "reconstruction_dict",
    "grid_layout", "profile_target",
]

#: ImageNet statistics used by MAE / VideoMAE to normalise the encoder input (targets stay in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_VIT_FIELDS = {f.name for f in dataclasses.fields(ViTConfig)}


# ----------------------------------------------------------------------------------------- configs
@dataclasses.dataclass(frozen=True)
class MethodConfig:
    """Base of the methods' configs: ``replace(**changes)`` routes ViT geometry fields (``dim``,
    ``decoder_depth``, ``decoder_dim`` …) into the nested :class:`~maskedav.configs.ViTConfig`(s).

    Subclasses call ``super().__post_init__()`` first: every field named ``mask_ratio*`` must lie in
    the open interval (0, 1) (:func:`maskedav.configs.check_fraction`)."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name.startswith("mask_ratio"):
                check_fraction(f"{type(self).__name__}.{f.name}", getattr(self, f.name))

    def _vit_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self) if isinstance(getattr(self, f.name), ViTConfig))

    def replace(self, **changes):
        own = {f.name for f in dataclasses.fields(self)}
        vit_changes = {k: changes.pop(k) for k in list(changes) if k not in own and k in _VIT_FIELDS}
        unknown = set(changes) - own
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}")
        new = dataclasses.replace(self, **changes)
        if vit_changes:
            new = dataclasses.replace(new, **{name: getattr(new, name).replace(**vit_changes)
                                             for name in new._vit_fields()})
        return new

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------- helpers
def as_mask(mask: Mask | torch.Tensor, device=None) -> Mask:
    """A :class:`Mask` from a Mask or a bool ``(B, N)`` tensor (True = masked), on ``device``."""
    if not isinstance(mask, Mask):
        mask = mask_from_bool(torch.as_tensor(mask).bool())
    return mask.to(device) if device is not None else mask


def norm_pix_stats(target: torch.Tensor, norm_pix: str | None, channels: int = 3, eps: float = 1e-6):
    """``(shift, scale)`` with ``(target - shift) / scale`` equal to the loss's normalised target.

    ``"per_patch"`` (MAE): mean and ``sqrt(var_unbiased + eps)`` over all ``P`` values of a token;
    ``"per_channel"`` (VideoMAE): per colour channel, mean and ``std_unbiased + eps``; ``None``: (0, 1).
    """
    if norm_pix in (None, "none"):
        return torch.zeros_like(target[..., :1]), torch.ones_like(target[..., :1])
    if norm_pix == "per_patch":
        return target.mean(-1, keepdim=True), (target.var(-1, keepdim=True) + eps) ** 0.5
    if norm_pix == "per_channel":
        *lead, P = target.shape
        x = target.reshape(*lead, P // channels, channels)
        shift = x.mean(-2, keepdim=True).expand_as(x).reshape(*lead, P)
        scale = (x.var(-2, keepdim=True).sqrt() + eps).expand_as(x).reshape(*lead, P)
        return shift, scale
    raise ValueError(f"norm_pix must be 'per_patch', 'per_channel' or None, not {norm_pix!r}")


def denormalize_prediction(pred: torch.Tensor, target: torch.Tensor, norm_pix: str | None,
                           channels: int = 3, eps: float = 1e-6) -> torch.Tensor:
    """Map a norm-pix prediction back to pixel space with the true patches' statistics."""
    shift, scale = norm_pix_stats(target, norm_pix, channels, eps)
    return pred * scale + shift


def per_sample_masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B,)`` mean over masked tokens of the per-token MSE (``pred``/``target`` ``(B, N, P)``)."""
    m = mask.float()
    return (((pred - target) ** 2).mean(-1) * m).sum(1) / m.sum(1).clamp_min(1)


def spectrogram_to_rgb(spec: torch.Tensor, vmin=None, vmax=None, cmap: str = "magma") -> torch.Tensor:
    """``(B, T, F)`` spectrograms → ``(B, 3, 1, F, T)`` RGB "videos" in [0, 1] (low frequencies at the
    bottom), so that :func:`maskedav.viz.reconstruction_grid` can show them beside video frames."""
    spec = spec.detach().float().cpu()
    vmin = spec.min() if vmin is None else vmin
    vmax = spec.max() if vmax is None else vmax
    z = ((spec - vmin) / (vmax - vmin + 1e-8)).clamp(0, 1).transpose(1, 2).flip(1)   # (B, F, T)
    rgb = torch.as_tensor(matplotlib.colormaps[cmap](z.numpy())[..., :3], dtype=torch.float32)
    return rgb.permute(0, 3, 1, 2).unsqueeze(2)


# ------------------------------------------------------------------------------------------ spaces
class _Space:
    """How one modality's batch becomes model input, patch targets and pictures."""

    channels = 3
    key = "video"

    def raw(self, batch) -> torch.Tensor:
        return batch[self.key] if isinstance(batch, dict) else batch

    def model_input(self, raw: torch.Tensor) -> torch.Tensor:
        return raw

    def fill_value(self, raw: torch.Tensor) -> float:
        return 0.5

    def mask_pixels(self, hidden_tokens: torch.Tensor) -> torch.Tensor:
        """Input-shaped bool (True = masked) from per-token ``(B, N, P)`` flags."""
        return self.unpatchify(hidden_tokens.float()) > 0.5

    def display(self, x: torch.Tensor) -> torch.Tensor:
        """RGB ``(B, 3, T, H, W)`` in [0, 1] for figures."""
        raise NotImplementedError


def _normalize(x: torch.Tensor, mean, std, channel_dim: int = 1) -> torch.Tensor:
    shape = [1] * x.dim()
    shape[channel_dim] = -1
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).reshape(shape)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).reshape(shape)
    return (x - m) / s


class ImageSpace(_Space):
    """Images ``(B, 3, H, W)`` in [0, 1] from ``batch["image"]`` (else the middle frame of ``batch["video"]``)."""

    key = "image"

    def __init__(self, patch, grid, normalize: bool = True, target: str = "raw"):
        if target not in ("raw", "input"):
            raise ValueError("target must be 'raw' ([0, 1] pixels, MAE) or 'input' (the normalised "
                             "encoder input, CAV-MAE)")
        self.patch, self.grid, self.normalize, self.target = patch, tuple(grid), normalize, target

    def raw(self, batch):
        if not isinstance(batch, dict):
            x = batch
        elif "image" in batch:
            x = batch["image"]
        else:
            x = batch["video"]
        if x.dim() == 5:                      # a clip: its middle frame
            x = x[:, :, x.shape[2] // 2]
        return x

    def model_input(self, raw):
        return _normalize(raw, IMAGENET_MEAN, IMAGENET_STD) if self.normalize else raw

    def patchify(self, raw):
        return patchify_image(self.model_input(raw) if self.target == "input" else raw, self.patch)

    def unpatchify(self, tokens, affine: bool = True):
        img = unpatchify_image(tokens, self.patch, self.grid, channels=3)
        if affine and self.target == "input" and self.normalize:   # back to [0, 1] pixels
            img = _normalize(img, [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)],
                             [1 / s for s in IMAGENET_STD])
        return img

    def mask_pixels(self, hidden_tokens):
        return self.unpatchify(hidden_tokens.float(), affine=False) > 0.5

    def display(self, x):
        return x.unsqueeze(2)


class VideoSpace(_Space):
    """Clips ``(B, 3, T, H, W)`` in [0, 1] from ``batch["video"]``; tubelet tokens ``(t, h, w)``."""

    key = "video"

    def __init__(self, patch, tubelet: int, grid, normalize: bool = True):
        self.patch, self.tubelet, self.grid, self.normalize = patch, tubelet, tuple(grid), normalize

    def model_input(self, raw):
        return _normalize(raw, IMAGENET_MEAN, IMAGENET_STD) if self.normalize else raw

    def patchify(self, raw):
        return patchify_video(raw, self.patch, self.tubelet)

    def unpatchify(self, tokens):
        return unpatchify_video(tokens, self.patch, self.tubelet, self.grid, channels=3)

    def display(self, x):
        return x


class SpectrogramSpace(_Space):
    """Fbank features ``(B, T_frames, n_mels)`` from ``batch["fbank"]`` (log-mel, un-normalised).

    The encoder sees ``(fbank - mean) / (std · std_scale)`` (AudioMAE: ``std_scale = 2``; CAV-MAE: 1);
    targets are patches of that normalised input (as in both codes), in the token order of
    ``layout`` (``"tf"`` time-major, ``"ft"`` CAV-MAE's transposed grid). Display space is the raw fbank.
    """

    key = "fbank"
    channels = 1

    def __init__(self, input_size, patch, layout: str = "tf", mean: float = 0.0, std: float = 1.0,
                 std_scale: float = 1.0):
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.patch_tf = (int(patch[0]), int(patch[1]))            # (p_time, p_freq)
        self.layout, self.mean, self.std, self.std_scale = layout, float(mean), float(std), float(std_scale)
        T, F = self.input_size
        pt, pf = self.patch_tf
        self.n_time, self.n_freq = T // pt, F // pf
        self.grid = (self.n_time, self.n_freq) if layout == "tf" else (self.n_freq, self.n_time)
        self.img_patch = self.patch_tf if layout == "tf" else (pf, pt)

    def raw(self, batch):
        x = batch[self.key] if isinstance(batch, dict) else batch
        T = self.input_size[0]
        if x.shape[1] < T:
            raise ValueError(f"fbank has {x.shape[1]} frames, the model needs {T}")
        return x[:, :T]

    def model_input(self, raw):
        return (raw - self.mean) / (self.std * self.std_scale)

    def _image(self, x):
        x = x.unsqueeze(1)
        return x.transpose(-1, -2) if self.layout == "ft" else x

    def patchify(self, raw):
        # Targets are taken from the normalised input (the codes patchify the model's input).
        return patchify_image(self._image(self.model_input(raw)), self.img_patch)

    def unpatchify(self, tokens, affine: bool = True):
        """Tokens (normalised-input units) → ``(B, T, F)`` fbank units (``affine=False``: no de-normalising)."""
        img = unpatchify_image(tokens, self.img_patch, self.grid, channels=1)
        img = (img.transpose(-1, -2) if self.layout == "ft" else img).squeeze(1)
        return img * (self.std * self.std_scale) + self.mean if affine else img

    def mask_pixels(self, hidden_tokens):
        return self.unpatchify(hidden_tokens.float(), affine=False) > 0.5

    def fill_value(self, raw):
        return float(raw.min())

    def display(self, x):
        return spectrogram_to_rgb(x)


def reconstruction_dict(space: "_Space", raw: torch.Tensor, pred: torch.Tensor, mask: Mask,
                        norm_pix: str | None) -> dict:
    """The ``reconstruct()`` dictionary from a modality's raw input and every token's prediction."""
    target = space.patchify(raw).float()
    pred = pred.float()
    shift, scale = norm_pix_stats(target, norm_pix, space.channels)
    mse = per_sample_masked_mse(pred, (target - shift) / scale, mask.mask)
    pred_pix = pred * scale + shift
    hidden = mask.mask[..., None].expand_as(target)
    mask_pixels = space.mask_pixels(hidden)
    masked_input = torch.where(mask_pixels, torch.full_like(raw, space.fill_value(raw)), raw)
    return dict(input=raw, masked_input=masked_input, prediction=space.unpatchify(pred_pix),
                pasted=space.unpatchify(torch.where(hidden, pred_pix, target)), mask=mask,
                mask_pixels=mask_pixels, mse=mse, loss=mse.mean())


# ------------------------------------------------------------------------------------- base class
def profile_target(profile) -> dict:
    """Config changes for the profile's reconstruction target: ``{"norm_pix": None}`` (raw pixels)
    when ``profile.model.pixel_target == "raw"`` — the small profiles, where a normalised patch of
    SynthAV's smooth content is unpredictable texture (``shared/notes/regime.md``; a documented
    deviation, VideoMAE's own "w/o norm" ablation) — else ``{}`` (the paper's target)."""
    from maskedav.profiles import get_profile

    p = get_profile(profile) if isinstance(profile, str) else profile
    return {"norm_pix": None} if p.model.pixel_target == "raw" else {}


def grid_layout(tokens: torch.Tensor, grid) -> torch.Tensor:
    """``(B, N, D)`` patch tokens in grid order -> ``(B, D, *grid)``."""
    B, N, D = tokens.shape
    if N != math.prod(grid):
        raise ValueError(f"{N} tokens do not fill a grid of {tuple(grid)}")
    return tokens.transpose(1, 2).reshape(B, D, *grid)


class PretrainMethod(nn.Module):
    """Base of every pre-training method: its mask generator and the inspection API."""

    config: MethodConfig
    encoder: nn.Module

    def __init__(self, config: MethodConfig):
        super().__init__()
        self.config = config
        # Masks (and other per-step draws) come from this CPU generator and are moved to the data's
        # device; the training engine checkpoints its state.
        self.generator = torch.Generator().manual_seed(int(getattr(config, "seed", 0)))

    def reseed(self, seed: int) -> None:
        self.generator.manual_seed(int(seed))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @contextlib.contextmanager
    def _eval_mode(self):
        was = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was)

    # subclasses: forward, reconstruct, attention_maps, features, embed
    def embed(self, batch) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class MaskedPixelAutoencoder(PretrainMethod):
    """MAE's masked pixel reconstruction on one modality (see module docstring).

    Subclasses set ``self.space`` (:class:`ImageSpace`, :class:`VideoSpace`, :class:`SpectrogramSpace`),
    ``self.encoder`` (:class:`~maskedav.nn.ViTEncoder`), ``self.decoder`` (:class:`~maskedav.nn.MAEDecoder`)
    and implement :meth:`draw_mask`. Config fields used: ``mask_ratio``, ``norm_pix``.
    """

    space: _Space

    @property
    def num_patches(self) -> int:
        return self.encoder.num_patches

    def draw_mask(self, batch_size: int, device=None) -> Mask:  # pragma: no cover - abstract
        raise NotImplementedError

    def _mask(self, mask, batch_size: int, device) -> Mask:
        if mask is None:
            return self.draw_mask(batch_size, device)
        mask = as_mask(mask, device)
        if tuple(mask.mask.shape) != (batch_size, self.num_patches):
            raise ValueError(f"mask of shape {tuple(mask.mask.shape)}, expected {(batch_size, self.num_patches)}")
        return mask

    def patch_target(self, batch) -> torch.Tensor:
        """Patchified target ``(B, N, P)`` before norm-pix."""
        return self.space.patchify(self.space.raw(batch)).float()

    def forward_loss(self, pred: torch.Tensor, target: torch.Tensor, mask: Mask | torch.Tensor) -> torch.Tensor:
        """MSE over masked patches of the norm-pix target (visible-token predictions are ignored)."""
        return masked_mse(pred.float(), target.float(), mask, norm_pix=self.config.norm_pix,
                          channels=self.space.channels)

    def forward(self, batch, mask=None):
        raw = self.space.raw(batch)
        x = self.space.model_input(raw)
        m = self._mask(mask, x.shape[0], x.device)
        latent = self.encoder(x, m)
        pred = self.decoder(latent, m)
        loss = self.forward_loss(pred, self.space.patchify(raw), m)
        return loss, {"loss_recon": loss.detach(), "visible_tokens": torch.tensor(float(m.num_keep))}

    # ------------------------------------------------------------------------- inspection API
    @contextlib.contextmanager
    def _predict_all(self):
        old = self.decoder.predict
        self.decoder.predict = "all"
        try:
            yield
        finally:
            self.decoder.predict = old

    @torch.no_grad()
    def reconstruct(self, batch, mask=None) -> dict:
        """Reconstruction of ``batch`` under ``mask`` (drawn from ``self.generator`` when ``None``).

        Returns ``input`` (the raw input, display space), ``masked_input`` (masked patches filled with
        a constant), ``prediction`` (every token's prediction, de-normalised with the true patches'
        norm-pix statistics), ``pasted`` (visible input + predicted masked patches), ``mask`` (the
        :class:`Mask`), ``mask_pixels`` (bool, input-shaped, True = masked), ``mse`` (``(B,)``
        masked-patch MSE in the loss's space) and ``loss`` (its mean, = the training loss).
        """
        with self._eval_mode(), self._predict_all():
            raw = self.space.raw(batch)
            x = self.space.model_input(raw)
            m = self._mask(mask, x.shape[0], x.device)
            pred = self.decoder(self.encoder(x, m), m).float()
        return reconstruction_dict(self.space, raw, pred, m, self.config.norm_pix)

    @torch.no_grad()
    def attention_maps(self, batch, layer: int = -1, head: int | None = None, query: int | None = None,
                       mask=None) -> torch.Tensor:
        """Softmax attention of encoder block ``layer`` on all tokens (or the visible ones of ``mask``):
        ``(B, H, L, L)``; ``head`` selects one head, ``query`` one query row (e.g. 0 = the cls token)."""
        x = self.space.model_input(self.space.raw(batch))
        m = None if mask is None else self._mask(mask, x.shape[0], x.device)
        maps = self.encoder.attention_maps(x, layer, head, mask=m)
        return maps if query is None else maps[..., query, :]

    @torch.no_grad()
    def features(self, batch, layers: Sequence[int] | None = None, mask=None) -> dict[int, torch.Tensor]:
        """``{layer: (B, L, D)}`` pre-norm outputs of the encoder blocks (all blocks by default)."""
        x = self.space.model_input(self.space.raw(batch))
        layers = list(range(self.encoder.depth)) if layers is None else list(layers)
        m = None if mask is None else self._mask(mask, x.shape[0], x.device)
        return dict(zip(layers, self.encoder.forward_features(x, m, layers)))

    def grid_tokens(self, batch) -> list[torch.Tensor]:
        """Final-norm encoder tokens, nothing masked, laid out on the patch grid: ``[(B, D, *grid)]``
        (one tensor per modality; the study layer's readouts pool them, keeping where and when)."""
        tokens = self.encoder(self.space.model_input(self.space.raw(batch)))
        return [grid_layout(tokens[:, self.encoder.num_prefix_tokens:], self.encoder.grid_size)]

    def embed(self, batch) -> torch.Tensor:
        """``(B, D)``: mean over the patch tokens of the final-norm encoder output, nothing masked
        (MAE's ``global_pool`` representation; the linear probes' input)."""
        tokens = self.encoder(self.space.model_input(self.space.raw(batch)))
        return tokens[:, self.encoder.num_prefix_tokens:].mean(1)

    def display(self, x: torch.Tensor) -> torch.Tensor:
        """RGB clips ``(B, 3, T, H, W)`` in [0, 1] of input-space tensors (for the figures)."""
        return self.space.display(x)
