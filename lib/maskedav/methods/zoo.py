"""The model zoo table: every paper-scale configuration with its size and cost, beside the papers' numbers.

For each :data:`maskedav.configs.PAPER_CONFIGS` entry the fine-tuning classifier (encoder without final
norm + mean pool + ``fc_norm`` + Linear, the VideoMAE / MVD fine-tune model) is built on the ``meta``
device (shapes only: no memory, no time) and counted with :mod:`maskedav.counting`:

* ``params_m`` — trainable parameters, millions (fixed sin-cos tables are buffers: not counted, as MVD
  Table 3 counts);
* ``gmacs`` — multiply-accumulates of one view, billions: the papers' "GFLOPs" (fvcore convention),
  counted analytically by :func:`classifier_macs` (every matmul: ``depth·(12·N·D² + 2·N²·D)`` + patch
  embedding + head), which equals :func:`maskedav.counting.count_flops` exactly (``tests/test_model_zoo.py``;
  :func:`check_macs` re-checks one configuration) at a fraction of the time;
* ``pretrain_params_m`` — the masked-autoencoder pre-training network: encoder + its MAE decoder (pixel
  or feature); for the baselines the method classes of :mod:`maskedav.methods` themselves are built
  (CAV-MAE: both streams, the joint block and the shared decoder, in one extra row).

``paper_params_m`` / ``paper_gmacs`` are the numbers the papers print, transcribed with their source in
:data:`maskedav.configs.PAPER_REPORTED`; ``*_diff_pct`` are relative differences. ``counted`` says what the
paper's parameter number counts: the classifier (MVD Table 3), or the encoder alone (XKD Table S10's
"ViT-Base (87M)": encoder with its learned positions and cls token).
"""
from __future__ import annotations

import math

import torch

from maskedav.configs import PAPER_CONFIGS, PAPER_REPORTED, ViTConfig
from maskedav.counting import count_flops, count_parameters
from maskedav.nn import ClassifierHead, MAEDecoder, ViTEncoder

__all__ = ["classifier", "classifier_macs", "check_macs", "dummy_input", "pretrain_network", "zoo_rows",
           "zoo_table", "describe_zoo", "COUNTED"]

#: What a paper's printed parameter number counts, when it is not the classifier.
COUNTED = {"xkd-video": "encoder"}


def classifier(cfg: ViTConfig) -> torch.nn.Module:
    """The fine-tune classifier of ``cfg``: encoder (``fc_norm`` instead of the final norm) + mean-pool head."""
    enc = ViTEncoder.from_config(cfg, final_norm=False)
    head = ClassifierHead(cfg.dim, cfg.num_classes, pool="mean", fc_norm=True,
                          num_prefix_tokens=enc.num_prefix_tokens)
    return torch.nn.Sequential(enc, head)


def classifier_macs(cfg: ViTConfig) -> int:
    """Matmul MACs of the classifier on one view: ``depth·(12·N·D² + 2·N²·D)`` (qkv, projection, MLP and
    the two attention products over ``N`` tokens incl. a cls token) + patch embedding + head."""
    n, d = cfg.num_patches + int(cfg.cls_token), cfg.dim
    blocks = (cfg.depth + cfg.joint_depth) * (12 * n * d * d + 2 * n * n * d)
    return blocks + cfg.num_patches * cfg.patch_dim * d + d * cfg.num_classes


def check_macs(name: str) -> tuple[int, int]:
    """``(analytic, FlopCounterMode)`` MACs of one configuration's classifier (they must be equal)."""
    cfg = PAPER_CONFIGS[name]
    with torch.device("meta"):
        model = classifier(cfg)
    return classifier_macs(cfg), count_flops(model, dummy_input(cfg)).macs


def dummy_input(cfg: ViTConfig, batch: int = 1, device="meta") -> torch.Tensor:
    shape = (batch, *cfg.input_size) if cfg.modality == "audio" else (batch, cfg.in_chans, *cfg.input_size)
    return torch.empty(shape, device=device)


def pretrain_network(name: str, cfg: ViTConfig) -> torch.nn.Module:
    """The pre-training network of a config: the baseline method when it is one, else encoder + decoder."""
    from . import AudioMAE, AudioMAEConfig, MAE, MAEConfig, VideoMAE, VideoMAEConfig

    if name.startswith("videomae-"):
        return VideoMAE(VideoMAEConfig(vit=cfg))
    if name.startswith("mae-"):
        return MAE(MAEConfig(vit=cfg))
    if name == "audiomae-b":
        return AudioMAE(AudioMAEConfig(vit=cfg.replace(decoder_depth=8)))
    return torch.nn.ModuleList([ViTEncoder.from_config(cfg), MAEDecoder.from_config(cfg)])


def _shape(cfg: ViTConfig) -> str:
    return "×".join(str(s) for s in cfg.input_size)


def zoo_rows() -> list[dict]:
    """One dict per paper configuration (plus the full CAV-MAE); see the module docstring."""
    from . import CAVMAE, CAVMAEConfig

    rows = []
    for name, cfg in PAPER_CONFIGS.items():
        with torch.device("meta"):
            model = classifier(cfg)
            pre = pretrain_network(name, cfg)
        counted = COUNTED.get(name, "classifier")
        if counted == "encoder":
            with torch.device("meta"):
                params = count_parameters(ViTEncoder.from_config(cfg))
        else:
            params = count_parameters(model)
        macs = classifier_macs(cfg)
        rep = PAPER_REPORTED.get(name, {})
        patch = "×".join(str(p) for p in ((cfg.tubelet,) if cfg.modality == "video" else ()) + cfg.patch)
        rows.append(dict(
            config=name, modality=cfg.modality, input=_shape(cfg), patch=patch, tokens=cfg.num_patches,
            encoder=f"{cfg.dim}/{cfg.depth}{'+' + str(cfg.joint_depth) if cfg.joint_depth else ''}/{cfg.heads}",
            decoder=f"{cfg.decoder_dim}/{cfg.decoder_depth if name != 'audiomae-b' else 8}/{cfg.decoder_heads}",
            counted=counted, params_m=params / 1e6, gmacs=macs / 1e9,
            pretrain_params_m=count_parameters(pre) / 1e6,
            paper_params_m=rep.get("params_m"), paper_gmacs=rep.get("gmacs"), source=rep.get("source", "")))
    with torch.device("meta"):
        cav = CAVMAE(CAVMAEConfig.paper())
    a = cav.config.audio
    rows.append(dict(config="cav-mae (audio + frame)", modality="audio+image", input="1024×128 + 224×224",
                     patch="16×16", tokens=a.num_patches + cav.config.video.num_patches,
                     encoder=f"{a.dim}/{a.depth}+{a.joint_depth}/{a.heads}",
                     decoder=f"{a.decoder_dim}/{a.decoder_depth}/{a.decoder_heads}", counted="",
                     params_m=math.nan,
                     gmacs=math.nan, pretrain_params_m=count_parameters(cav) / 1e6,
                     paper_params_m=None, paper_gmacs=None, source=""))
    for r in rows:
        for key, paper in (("params", "paper_params_m"), ("gmacs", "paper_gmacs")):
            ours = r["params_m" if key == "params" else "gmacs"]
            r[f"{key}_diff_pct"] = (100.0 * (ours / r[paper] - 1.0)) if r[paper] else None
    return rows


def zoo_table():
    """:func:`zoo_rows` as a DataFrame (columns in reading order)."""
    import pandas as pd

    cols = ["config", "modality", "input", "patch", "tokens", "encoder", "decoder", "counted", "params_m", "gmacs",
            "pretrain_params_m", "paper_params_m", "params_diff_pct", "paper_gmacs", "gmacs_diff_pct", "source"]
    return pd.DataFrame(zoo_rows())[cols]


def describe_zoo(table, tolerance_pct: float = 1.0) -> str:
    """Sentences computed from the table: how many printed numbers are matched within ``tolerance_pct``."""
    lines = []
    for key, label in (("params_diff_pct", "parameter counts"), ("gmacs_diff_pct", "GFLOPs (GMACs)")):
        d = table[["config", key]].dropna()
        within = d[d[key].abs() <= tolerance_pct]
        worst = d.loc[d[key].abs().idxmax()] if len(d) else None
        line = f"- {label}: {len(within)} of {len(d)} printed values matched within ±{tolerance_pct:g} %"
        if worst is not None:
            line += f" (largest difference {worst[key]:+.2f} % for {worst['config']})"
        lines.append(line + ".")
    return "\n".join(lines)
