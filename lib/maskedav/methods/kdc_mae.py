"""KDC-MAE: knowledge-distilled contrastive MAE (Bora et al., WACV 2025) on CAV-MAE — the model only.

CAV-MAE (:mod:`maskedav.methods.cav_mae`, its encoder, decoder, losses and inputs unchanged) run as
``num_streams`` **weight-shared** streams on differently masked copies of the same audio-visual pair
(spec §2.4, §4.9):

* masks (§3.2): per modality, either **complementary** (one shuffle per sample, disjoint visible slices,
  each stream with **its own** ``ids_restore``; :func:`maskedav.masking.complementary_masks`) or
  independent draws ("with overlap"); audio and video masks are drawn independently of each other.
  Structured audio masks (``audio_mask_type`` ``time`` / ``freq`` / ``tf``, Table 7) are drawn
  independently per stream (spec §3.4's first resolution: forcing whole columns masked leaves too few
  tokens for disjoint slices). ``shared_restore=True`` reproduces the released code's bug (every stream
  un-shuffled with stream 1's ``ids_restore``) as an ablation;
* per stream, CAV-MAE's reconstruction (Eq. 3) and contrastive (Eq. 1) losses, summed over streams;
* self-distillation (Eqs. 4–5): :func:`maskedav.losses.symmetric_kl` between the streams' mean-pooled joint
  tokens (after the final norm, before the decoder), min-shifted and sum-normalised; averaged over the
  stream pairs (§4.5); ``kd_pairs="aavv"`` adds the audio and video passes' pooled features (Table 3,
  §4.4). No stop-gradient; the decoder never sees the KD or contrastive gradients (§4.8);
* total (§4.6): ``L = Σ_s (λ_r L_r^(s) + λ_c L_c^(s)) + λ_kd L_kd``; ``weighting="uncertainty"``
  replaces the three static weights by Kendall weights ``e^{-s_k} L_k + s_k`` initialised at the static
  λ's, ``weighting="mlp"`` by the released code's loss mixer ``w = exp(3·softmax(MLP(L.detach())))``
  (both inferred: the paper gives no formula for its "dynamic weights", §4.7);
* ``makd=True``: the MAKD baseline of Table 1 (§9 item 24, all inferred): two **independent** CAV-MAE
  networks on the same batch with independent masks and no KD; every ``makd_interval`` steps the
  network with the higher last loss moves towards the other, ``θ_s ← m·θ_s + (1-m)·θ_t``. Downstream
  the first network is used (decided before any run).

The first stream's network is built exactly as :class:`~maskedav.methods.cav_mae.CAVMAE` builds its own,
so for one seed KDC-MAE and CAV-MAE start from the same weights (paired comparisons; one random-init
reference). Representations (``encode_audio`` / ``encode_video`` / ``encode_joint`` / ``grid_tokens``) and
the inspection API are CAV-MAE's.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import torch
from torch import nn

from maskedav.configs import check_complementary
from maskedav.losses import masked_mse, symmetric_kl
from maskedav.masking import Mask, complementary_masks

from .cav_mae import CAVMAE, CAVMAEConfig, CAVMAEDecoder, CAVMAEEncoder

__all__ = ["KDCMAEConfig", "KDCMAE", "KD_FEATURES"]

KD_PAIRS = ("joint", "aavv")
WEIGHTINGS = ("static", "uncertainty", "mlp")
#: Pooled features distilled between streams, per ``kd_pairs``.
KD_FEATURES = {"joint": ("joint",), "aavv": ("joint", "audio", "video")}


@dataclass(frozen=True)
class KDCMAEConfig(CAVMAEConfig):
    """CAV-MAE's fields plus KDC-MAE's switches (defaults: the paper's proposed model, spec §4.6).

    ``num_streams`` 2 (3: Table 4); ``complementary`` True ("No Overlap") or False (independent masks,
    "With Overlap"); ``kd_weight`` λ_kd = 10 (Table 2 sweeps 5 / 10 / 15; 0 = dual masks without
    distillation); ``kd_pairs`` ``"joint"`` or ``"aavv"`` (Table 3); ``divergence`` ``"sym_kl"`` (Eq. 5)
    or ``"js"`` (released code); ``kd_shift`` ``"per_sample"`` (paper) or ``"batch"`` (code);
    ``weighting`` ``"static"`` / ``"uncertainty"`` / ``"mlp"`` (Table 3's DW); ``shared_restore`` the
    released code's restore bug; ``makd`` the MAKD baseline (with ``makd_interval``, ``makd_momentum``).
    """

    num_streams: int = 2
    complementary: bool = True
    kd_weight: float = 10.0
    kd_pairs: str = "joint"
    divergence: str = "sym_kl"
    kd_shift: str = "per_sample"
    weighting: str = "static"
    shared_restore: bool = False
    makd: bool = False
    makd_interval: int = 100
    makd_momentum: float = 0.99

    def __post_init__(self):
        super().__post_init__()
        if self.num_streams < 1:
            raise ValueError(f"num_streams must be >= 1, not {self.num_streams}")
        if self.kd_pairs not in KD_PAIRS:
            raise ValueError(f"kd_pairs must be one of {KD_PAIRS}, not {self.kd_pairs!r}")
        if self.divergence not in ("sym_kl", "js"):
            raise ValueError(f"divergence must be 'sym_kl' or 'js', not {self.divergence!r}")
        if self.kd_shift not in ("per_sample", "batch"):
            raise ValueError(f"kd_shift must be 'per_sample' or 'batch', not {self.kd_shift!r}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, not {self.weighting!r}")
        if self.kd_weight < 0:
            raise ValueError(f"kd_weight (λ_kd) must be >= 0, not {self.kd_weight}")
        if self.weighting != "static" and (min(self.mae_weight, self.contrast_weight, self.kd_weight) <= 0
                                           or self.num_streams < 2):
            raise ValueError("dynamic weighting starts from the static weights and needs a KD term: "
                             "mae_weight, contrast_weight and kd_weight > 0 and num_streams >= 2")
        if self.makd:
            if self.num_streams != 2 or self.complementary or self.kd_weight != 0 or self.weighting != "static":
                raise ValueError("makd=True is two independent networks with independent masks and no KD: "
                                 "num_streams=2, complementary=False, kd_weight=0, weighting='static'")
            if self.makd_interval < 1 or not 0 <= self.makd_momentum <= 1:
                raise ValueError("makd_interval must be >= 1 and makd_momentum in [0, 1]")
        if self.complementary and self.num_streams > 1:
            for name, cfg, ratio in (("mask_ratio_a", self.audio, self.mask_ratio_a),
                                     ("mask_ratio_v", self.video, self.mask_ratio_v)):
                if name == "mask_ratio_a" and self.audio_mask_type != "random":
                    continue
                check_complementary(f"KDCMAEConfig.{name}", ratio, self.num_streams, cfg.num_patches)

    @classmethod
    def from_cavmae(cls, config: CAVMAEConfig, **changes) -> "KDCMAEConfig":
        """KDC-MAE on exactly the CAV-MAE ``config`` (same networks, inputs and loss weights)."""
        base = {f.name: getattr(config, f.name) for f in dataclasses.fields(CAVMAEConfig)}
        own = {f.name for f in dataclasses.fields(cls)} - set(base)
        # KDC-MAE's own switches go to the constructor, so that only the final config is validated
        return cls(**base, **{k: changes.pop(k) for k in list(changes) if k in own}).replace(**changes)


class KDCMAE(CAVMAE):
    """KDC-MAE: ``forward(batch) -> (loss, logs)`` on CAV-MAE's inputs (``batch["fbank"]``, a frame of
    ``batch["video"]`` or ``batch["image"]``). ``masks=[(audio Mask, video Mask), ...]`` (one pair per
    stream) fixes the masks; by default they are drawn from ``self.generator`` (:meth:`stream_masks`)."""

    def __init__(self, config: KDCMAEConfig):
        super().__init__(config)          # stream network first: the same initial weights as CAV-MAE
        c = config
        if c.makd:
            self.peer_encoder = CAVMAEEncoder(c.audio, c.video)
            self.peer_decoder = CAVMAEDecoder(c.audio, c.video)
            self.register_buffer("makd_step", torch.zeros((), dtype=torch.long))
            self.register_buffer("makd_loss", torch.zeros(2))
        if c.weighting == "uncertainty":
            lam = torch.tensor([c.mae_weight, c.contrast_weight, c.kd_weight])
            self.log_vars = nn.Parameter(-lam.log())               # e^{-s_k} = λ_k at the start
        elif c.weighting == "mlp":
            self.mixer = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(),
                                       nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 3))

    # ------------------------------------------------------------------------------------- masks
    def _modality_masks(self, modality: str, batch_size: int, device) -> list[Mask]:
        c = self.config
        n = c.num_streams
        structured = modality == "audio" and c.audio_mask_type != "random"
        if not c.complementary or structured or n == 1:
            return [self.draw_mask(modality, batch_size, device) for _ in range(n)]
        tokens = (self.encoder.audio if modality == "audio" else self.encoder.video).num_patches
        ratio = c.mask_ratio_a if modality == "audio" else c.mask_ratio_v
        masks = complementary_masks(batch_size, tokens, ratio, n, device="cpu", generator=self.generator)
        if c.shared_restore:                       # the released code's bug (spec §3.2), as an ablation
            masks = [m._replace(ids_restore=masks[0].ids_restore) for m in masks]
        return [m.to(device) for m in masks]

    def stream_masks(self, batch_size: int, device=None) -> list[tuple[Mask, Mask]]:
        """One ``(audio, video)`` mask pair per stream (audio first: draws from ``self.generator``)."""
        audio = self._modality_masks("audio", batch_size, device)
        video = self._modality_masks("video", batch_size, device)
        return list(zip(audio, video))

    # ------------------------------------------------------------------------------------ losses
    def stream_losses(self, xa, xv, fbank, frame, ma: Mask, mv: Mask, encoder=None, decoder=None) -> dict:
        """One stream: reconstruction (audio + video, Eq. 3), contrast (Eq. 1) and its accuracy, and the
        pooled features the streams distil (``joint``: mean of the joint pass's tokens after ``norm``;
        ``audio`` / ``video``: the modality passes' pooled features, the contrastive ones)."""
        c = self.config
        enc, dec = encoder or self.encoder, decoder or self.decoder
        a, v = enc.specific("audio", xa, ma), enc.specific("video", xv, mv)
        joint = enc.norm(enc.shared(torch.cat([a, v], dim=1), None))
        pred_a, pred_v = dec(joint, ma, mv)
        la = masked_mse(pred_a.float(), self.audio_space.patchify(fbank).float(), ma, c.norm_pix, channels=1)
        lv = masked_mse(pred_v.float(), self.video_space.patchify(frame).float(), mv, c.norm_pix, channels=3)
        ca = enc.norm_a(enc.shared(a, "audio")).mean(1)
        cv = enc.norm_v(enc.shared(v, "video")).mean(1)
        lc, acc = self.contrastive_loss(ca, cv)
        return dict(recon_a=la, recon_v=lv, contrast=lc, contrast_acc=acc,
                    features=dict(joint=joint.mean(1), audio=ca, video=cv))

    def kd_loss(self, features: list[dict]) -> torch.Tensor:
        """Eq. 5 between every pair of streams, averaged over the pairs (§4.5), summed over the
        distilled features (``joint``, and ``audio`` + ``video`` for AA VV, §4.4)."""
        c = self.config
        total = torch.zeros((), device=features[0]["joint"].device)
        pairs = list(itertools.combinations(range(len(features)), 2))
        for name in KD_FEATURES[c.kd_pairs]:
            d = sum(symmetric_kl(features[i][name].float(), features[j][name].float(), shift=c.kd_shift,
                                 divergence=c.divergence) for i, j in pairs)
            total = total + d / len(pairs)
        return total

    def combine(self, recon: torch.Tensor, contrast: torch.Tensor, kd: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The total loss (§4.6, §4.7) from the stream-summed reconstruction and contrast and the KD term."""
        c = self.config
        terms = torch.stack([recon, contrast, kd])
        if c.weighting == "uncertainty":
            w = torch.exp(-self.log_vars)
            return (w * terms).sum() + self.log_vars.sum(), dict(weight_recon=w[0].detach(),
                                                                 weight_contrast=w[1].detach(), weight_kd=w[2].detach())
        lam = terms.new_tensor([c.mae_weight, c.contrast_weight, c.kd_weight])
        if c.weighting == "mlp":
            w = torch.exp(3 * torch.softmax(self.mixer(terms.detach()), dim=-1))
            return (w * lam * terms).sum(), dict(weight_recon=w[0].detach(), weight_contrast=w[1].detach(),
                                                 weight_kd=w[2].detach())
        return (lam * terms).sum(), {}

    def forward(self, batch, masks: list[tuple[Mask, Mask]] | None = None):
        c = self.config
        fbank, frame = self.fbank(batch), self.frame(batch)
        xa, xv = self.audio_space.model_input(fbank), self.video_space.model_input(frame)
        masks = self.stream_masks(xa.shape[0], xa.device) if masks is None else masks
        if len(masks) != c.num_streams:
            raise ValueError(f"{len(masks)} mask pairs for {c.num_streams} streams")
        if c.makd:
            return self._makd_forward(xa, xv, fbank, frame, masks)
        streams = [self.stream_losses(xa, xv, fbank, frame, ma, mv) for ma, mv in masks]
        recon = sum(s["recon_a"] + s["recon_v"] for s in streams)
        contrast = sum(s["contrast"] for s in streams)
        if c.num_streams > 1:
            kd = self.kd_loss([s["features"] for s in streams])
            kd = kd if c.kd_weight > 0 else kd.detach()           # λ_kd = 0: logged, not trained
        else:
            kd = torch.zeros((), device=xa.device)
        loss, weights = self.combine(recon, contrast, kd)
        kd_factor = {"static": c.kd_weight, "mlp": c.kd_weight * weights.get("weight_kd", 1.0),
                     "uncertainty": weights.get("weight_kd", 1.0)}[c.weighting]
        logs = dict(loss_recon=recon.detach(), loss_contrast=contrast.detach(), loss_kd=kd.detach(),
                    loss_kd_weighted=(kd_factor * kd).detach(),
                    contrast_acc=torch.stack([s["contrast_acc"] for s in streams]).mean(), **weights)
        for i, s in enumerate(streams):
            logs[f"loss_recon_s{i + 1}"] = (s["recon_a"] + s["recon_v"]).detach()
        return loss, logs

    # -------------------------------------------------------------------------------------- MAKD
    def _makd_forward(self, xa, xv, fbank, frame, masks):
        c = self.config
        if self.training:
            self._makd_sync()
        nets = [(self.encoder, self.decoder), (self.peer_encoder, self.peer_decoder)]
        losses, recon, contrast, logs = [], 0.0, 0.0, {}
        for i, ((enc, dec), (ma, mv)) in enumerate(zip(nets, masks)):
            s = self.stream_losses(xa, xv, fbank, frame, ma, mv, enc, dec)
            loss = c.mae_weight * (s["recon_a"] + s["recon_v"]) + c.contrast_weight * s["contrast"]
            recon, contrast = recon + (s["recon_a"] + s["recon_v"]).detach(), contrast + s["contrast"].detach()
            losses.append(loss)
            logs[f"loss_net{i + 1}"] = loss.detach()
            logs[f"contrast_acc_net{i + 1}"] = s["contrast_acc"]
        if self.training:
            self.makd_loss.copy_(torch.stack(losses).detach())
            self.makd_step += 1
        total = losses[0] + losses[1]
        return total, dict(logs, loss_recon=recon, loss_contrast=contrast)

    @torch.no_grad()
    def _makd_sync(self) -> None:
        """Every ``makd_interval`` steps: the network with the higher last loss (the student) moves
        towards the other (the teacher) by an exponential moving average of all its weights."""
        c = self.config
        step = int(self.makd_step)
        if step == 0 or step % c.makd_interval:
            return
        first, second = (self.encoder, self.decoder), (self.peer_encoder, self.peer_decoder)
        teacher, student = (first, second) if self.makd_loss[0] <= self.makd_loss[1] else (second, first)
        for t_mod, s_mod in zip(teacher, student):
            for pt, ps in zip(t_mod.parameters(), s_mod.parameters()):
                ps.mul_(c.makd_momentum).add_(pt.detach(), alpha=1 - c.makd_momentum)

    # ------------------------------------------------------------------------------- inspection
    @torch.no_grad()
    def stream_features(self, batch, masks: list[tuple[Mask, Mask]] | None = None) -> list[dict]:
        """Each stream's pooled features (``joint`` / ``audio`` / ``video``) under ``masks`` (eval mode):
        what the KD loss compares (mechanistic checks, spec §10.4)."""
        with self._eval_mode():
            fbank, frame = self.fbank(batch), self.frame(batch)
            xa, xv = self.audio_space.model_input(fbank), self.video_space.model_input(frame)
            masks = self.stream_masks(xa.shape[0], xa.device) if masks is None else masks
            return [self.stream_losses(xa, xv, fbank, frame, ma, mv)["features"] for ma, mv in masks]


def coverage(masks: list[Mask]) -> float:
    """Fraction of tokens visible in at least one stream (spec §3.3: 50 % for two complementary
    streams at 75 % masking, 43.75 % expected for two independent ones)."""
    visible = torch.stack([~m.mask for m in masks]).any(0)
    return float(visible.float().mean())


def expected_coverage(ratio: float, num_streams: int, complementary: bool) -> float:
    """Expected union of visible tokens: ``n·(1-r)`` (complementary) or ``1 - r^n`` (independent)."""
    return min(1.0, num_streams * (1 - ratio)) if complementary else 1 - ratio ** num_streams


__all__ += ["coverage", "expected_coverage"]
