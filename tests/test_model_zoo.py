"""Paper-scale configurations: build, run one forward pass, count parameters and MACs vs the papers.

Counting conventions (documented in maskedav.counting and checked here):

* Parameters = trainable parameters of the fine-tuning classifier (encoder + mean-pool + fc_norm +
  Linear(D, num_classes)); fixed sin-cos tables are buffers and are **not** counted. That reproduces MVD
  Table 3's ViT-S 22M / ViT-B 87M; counting the fixed 1568-row table would give 22.6M / 87.8M (ViT-S then
  misses by 2.9 %). ViT-L / ViT-H come out 0.23 % / 0.13 % *below* the printed 305M / 633M (304.30M /
  632.16M); no single convention reproduces all four printed integers, and 1 % covers all of them.
* "GFLOPs" in the papers are GMACs of one 16×224² view (fvcore). ``FlopCounterMode`` counts matmul FLOPs
  (2 per MAC); we report MACs = FLOPs/2 and compare with a 1 % tolerance: the printed values are integers
  (57 means [56.5, 57.5), i.e. up to 0.9 % rounding) and element-wise ops (softmax, LayerNorm, GELU) are
  not counted by either tool. Measured: 56.88 / 180.34 / 596.83 / 1190.99 GMACs.

Cost: every configuration is built and run once on the ``meta`` device (shapes only: free), which is
where parameters and MACs are counted. Real CPU forward passes (batch 1, ``torch.inference_mode``) run
for one configuration per code path up to ViT-B (≈ 2 s each); ViT-L / ViT-H (MVD-L/H, ≈ 7 / 12 s each,
mostly weight initialisation) are marked ``slow``.
"""
import functools

import pytest
import torch

from maskedav.configs import PAPER_CONFIGS, PAPER_REPORTED, ViTConfig, paper_config
from maskedav.counting import count_flops, count_parameters
from maskedav.masking import random_mask, tube_mask
from maskedav.nn import ClassifierHead, MAEDecoder, ViTEncoder


def build_classifier(cfg: ViTConfig) -> torch.nn.Module:
    """VideoMAE / MAE fine-tune model: encoder (final norm replaced by fc_norm) + mean-pool head."""
    enc = ViTEncoder.from_config(cfg, final_norm=False)
    head = ClassifierHead(cfg.dim, cfg.num_classes, pool="mean", fc_norm=True,
                          num_prefix_tokens=enc.num_prefix_tokens)
    return torch.nn.Sequential(enc, head)


def dummy_input(cfg: ViTConfig, b: int = 1) -> torch.Tensor:
    if cfg.modality == "audio":
        return torch.randn(b, *cfg.input_size)
    return torch.randn(b, cfg.in_chans, *cfg.input_size)


def pretrain_mask(cfg: ViTConfig, b: int = 1, device="cpu"):
    """Tube mask 0.9 (video) / random 0.75 (image, audio), drawn on the CPU and moved to ``device``."""
    if cfg.modality == "video":
        m = tube_mask(b, cfg.grid_size, 0.9, device="cpu", seed=0)
    else:
        m = random_mask(b, cfg.num_patches, 0.75, device="cpu", seed=0)
    return m.to(device)


def run_pretrain(cfg: ViTConfig, enc: ViTEncoder | None = None):
    """Masked pre-training forward: encoder on the visible tokens, decoder predicting the masked ones."""
    x = dummy_input(cfg)
    m = pretrain_mask(cfg, device=x.device)
    enc = enc if enc is not None else ViTEncoder.from_config(cfg)
    dec = MAEDecoder.from_config(cfg, predict="masked")
    z = enc(x, m)
    pred = dec(z, m)
    assert z.shape == (1, enc.num_prefix_tokens + m.num_keep, cfg.dim)
    assert pred.shape == (1, cfg.num_patches - m.num_keep, cfg.decoder_out_dim or cfg.patch_dim)
    return pred


def vit_macs(cfg: ViTConfig) -> int:
    """Hand count of matmul MACs: depth·(12·N·D² + 2·N²·D) + patch embedding + head."""
    n, d = cfg.num_patches + int(cfg.cls_token), cfg.dim
    blocks = (cfg.depth + cfg.joint_depth) * (12 * n * d * d + 2 * n * n * d)
    return blocks + cfg.num_patches * cfg.patch_dim * d + d * cfg.num_classes


@functools.lru_cache(maxsize=None)
def meta_classifier(name: str):
    """The classifier of a paper config and an input, on the ``meta`` device (no memory, no time)."""
    cfg = paper_config(name)
    with torch.device("meta"):
        return build_classifier(cfg), dummy_input(cfg)


@pytest.mark.parametrize("name", list(PAPER_CONFIGS))
def test_every_config_builds_and_counts_on_meta(name):
    cfg = paper_config(name)
    model, x = meta_classifier(name)
    with torch.device("meta"):
        logits = model(x)
        run_pretrain(cfg, enc=model[0])
    assert logits.shape == (1, cfg.num_classes)
    macs = count_flops(model, x).macs
    assert macs == vit_macs(cfg)                     # every matmul accounted for, nothing else


# measured (parameters, MACs) of the K400 classifier on one 16x224² view
MVD = {"mvd-s": (22_038_544, 56_878_061_568), "mvd-b": (86_544_016, 180_344_893_440),
       "mvd-l": (304_295_312, 596_833_091_584), "mvd-h": (632_160_400, 1_190_994_104_320)}


@pytest.mark.parametrize("name", list(MVD))
def test_mvd_table3_params_and_gmacs(name):
    cfg = paper_config(name)
    rep = PAPER_REPORTED[name]
    model, x = meta_classifier(name)
    params, macs = count_parameters(model), count_flops(model, x).macs
    assert (params, macs) == MVD[name]
    params_m, gmacs = params / 1e6, macs / 1e9
    assert abs(params_m / rep["params_m"] - 1) < 0.01, (params_m, rep)
    assert abs(gmacs / rep["gmacs"] - 1) < 0.01, (gmacs, rep)


def test_fixed_pos_table_is_not_counted_like_the_paper():
    cfg = paper_config("mvd-s")
    model, _ = meta_classifier("mvd-s")
    with_table = count_parameters(model) + cfg.num_patches * cfg.dim
    assert abs(count_parameters(model) / 22e6 - 1) < 0.01
    assert abs(with_table / 22e6 - 1) > 0.02             # counting the fixed table would miss Table 3


def test_other_reported_sizes():
    # XKD Table S10: "ViT-Base (87M)" = video encoder incl. learned pos-embed and cls token (87.69M)
    with torch.device("meta"):
        xkd = ViTEncoder.from_config(paper_config("xkd-video"))
    assert abs(count_parameters(xkd) / 1e6 / PAPER_REPORTED["xkd-video"]["params_m"] - 1) < 0.01
    # CAV-MAE / KDC-MAE joint encoder (KDC-MAE spec §2.6: 163.96M from the code's layer definitions):
    # audio (11+1 blocks) + video (11 blocks) + a/v LayerNorms of the shared block and norm_a / norm_v
    # + two modality embeddings. The code also carries 4 unused LayerNorms in each of the 22
    # modality-specific blocks (22·4·1536 = 135,168 parameters) which are not built here.
    with torch.device("meta"):
        audio = ViTEncoder.from_config(paper_config("cavmae-audio"))
        video = ViTEncoder.from_config(paper_config("cavmae-video").replace(joint_depth=0))
    ours = count_parameters(audio) + count_parameters(video) + 6 * 2 * 768 - 2 * 768 + 2 * 768
    assert ours + 22 * 4 * 2 * 768 == pytest.approx(163.96e6, rel=1e-4)
    assert abs(ours / 163.96e6 - 1) < 0.001


def test_cpu_flop_count_includes_fused_attention():
    # PyTorch's CPU flash-attention op has no formula in FlopCounterMode; counting adds it.
    cfg = ViTConfig(modality="image", input_size=(32, 32), patch_size=8, dim=32, depth=2, heads=4, num_classes=5)
    model = build_classifier(cfg).eval()
    cpu = count_flops(model, dummy_input(cfg)).macs
    with torch.device("meta"):
        meta_model = build_classifier(cfg)
        meta = count_flops(meta_model, dummy_input(cfg)).macs
    assert cpu == meta == vit_macs(cfg)


# One real CPU run per code path (pos-embed kind, cls token, patch geometry, spectrogram layout,
# decoder variant); the other configurations differ only in sizes, which the meta runs check.
# (audiomae-b differs from cavmae-audio only by layout 'tf' + cls token, both exercised in test_nn.py)
CPU_PATHS = ["videomae-s", "mvd-s", "mae-b-16", "cavmae-audio", "xkd-video", "xkd-audio"]
# ViT-L / ViT-H: the MVD Table 3 students (videomae-l/h and mae-l/h differ only in sizes, checked on meta)
LARGE = ["mvd-l", "mvd-h"]


@pytest.mark.parametrize("name", CPU_PATHS)
def test_cpu_forward_up_to_vit_b(name):
    torch.manual_seed(0)
    with torch.inference_mode():
        pred = run_pretrain(paper_config(name))
    assert torch.isfinite(pred).all()


def test_cpu_classifier_forward_vit_s_video():
    cfg = paper_config("mvd-s")
    torch.manual_seed(0)
    model = build_classifier(cfg).eval()
    with torch.inference_mode():
        logits = model(dummy_input(cfg))                 # all 1568 tokens, 57 GMACs, batch 1
    assert logits.shape == (1, 400) and torch.isfinite(logits).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", LARGE)
def test_cpu_forward_vit_l_h(name):
    torch.manual_seed(0)
    with torch.inference_mode():
        pred = run_pretrain(paper_config(name))
    assert torch.isfinite(pred).all()
