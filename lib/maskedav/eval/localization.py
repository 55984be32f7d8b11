"""Sound-source localisation: cIoU, AUC and pointing game from heat-maps and boolean masks.

Per frame (the protocol of Senocak et al. 2018 and LVS, Chen et al. 2021):

1. the heat-map is resized to the mask's size (bilinear) and min-max normalised to ``[0, 1]``;
2. it is binarised: ``threshold="median"`` keeps the pixels above the value at sorted position
   ``H * W // 2`` (LVS: the top half), a float keeps pixels ``>= threshold``;
3. ``IoU = |P & G| / (|G| + |P & ~G|)``. LVS's cIoU weighs ``G`` by annotator consensus; with one
   boolean mask per frame it is this IoU. A frame with an empty mask has IoU 0.

Reported (percent): ``cIoU`` = frames with IoU >= ``iou_threshold`` (0.5), ``AUC`` = area under that
success rate for IoU thresholds 0, 0.05, ..., 1 (trapezoids), ``mIoU`` = mean IoU, ``pointing`` =
frames whose heat-map maximum (first one in row-major order) lies inside the mask (pointing game).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _frames(heatmaps, masks):
    heat = torch.as_tensor(heatmaps, dtype=torch.float32)
    gt = torch.as_tensor(masks).bool()
    gt = gt.reshape(-1, *gt.shape[-2:])
    heat = heat.reshape(-1, *heat.shape[-2:])
    if len(heat) != len(gt):
        raise ValueError(f"{len(heat)} heat-maps for {len(gt)} masks")
    if heat.shape[-2:] != gt.shape[-2:]:
        heat = F.interpolate(heat[:, None], size=gt.shape[-2:], mode="bilinear",
                             align_corners=False)[:, 0]
    return heat, gt


def binarize(heat: torch.Tensor, threshold="median") -> torch.Tensor:
    """Per-frame boolean prediction from ``(N, H, W)`` heat-maps (see module docstring)."""
    flat = heat.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    norm = (flat - lo) / (hi - lo).clamp_min(1e-12)
    if threshold == "median":
        cut = norm.sort(1).values[:, flat.shape[1] // 2][:, None]
        pred = norm > cut
    else:
        pred = norm >= float(threshold)
    return pred.view_as(heat)


def iou_per_frame(heatmaps, masks, threshold="median") -> torch.Tensor:
    """IoU of the binarised heat-map with the mask, one value per frame."""
    heat, gt = _frames(heatmaps, masks)
    pred = binarize(heat, threshold)
    inter = (pred & gt).flatten(1).sum(1).float()
    denom = gt.flatten(1).sum(1) + (pred & ~gt).flatten(1).sum(1)
    return torch.where(denom > 0, inter / denom.clamp_min(1), torch.zeros_like(inter))


def pointing_hits(heatmaps, masks) -> torch.Tensor:
    """Whether each frame's heat-map maximum falls inside its mask."""
    heat, gt = _frames(heatmaps, masks)
    idx = heat.flatten(1).argmax(1)
    return gt.flatten(1).gather(1, idx[:, None])[:, 0]


def localization(heatmaps, masks, threshold="median", iou_threshold: float = 0.5) -> dict[str, float]:
    """``{"cIoU", "AUC", "mIoU", "pointing"}`` in percent over all frames (``(..., H, W)`` inputs)."""
    iou = iou_per_frame(heatmaps, masks, threshold)
    thresholds = np.linspace(0.0, 1.0, 21)
    success = [(iou >= t).double().mean().item() for t in thresholds]
    return {"cIoU": 100.0 * (iou >= iou_threshold).double().mean().item(),
            "AUC": 100.0 * float(np.trapezoid(success, thresholds)),
            "mIoU": 100.0 * iou.mean().item(),
            "pointing": 100.0 * pointing_hits(heatmaps, masks).double().mean().item()}
