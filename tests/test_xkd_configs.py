"""XKD's configuration tables S7-S12 and Fig. 1 (:mod:`maskedav.chapters.xkd_configs`): the tables are read from
the library (a changed setting is flagged), Table S9 is the sharing of the built models, Fig. 1 a traced pass."""
import math

import pytest
import torch

from maskedav.chapters import xkd_configs as xc
from maskedav.methods.xkd import XKD, XKDConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TABLES = {"tableS7": xc.table_s7, "tableS8": xc.table_s8, "tableS9": xc.table_s9, "tableS10": xc.table_s10,
          "tableS11": xc.table_s11, "tableS12": xc.table_s12}


@pytest.fixture(scope="module")
def tables():
    return {tid: fn() for tid, fn in TABLES.items()}


def _row(t, item):
    return t.set_index("item").loc[item]


@pytest.mark.parametrize("tid", list(TABLES))
def test_every_table_has_the_four_columns_and_no_empty_cell(tables, tid):
    t = tables[tid]
    assert list(t.columns) == ["item", "paper", "library", "flag"]
    assert len(t) > 0 and t.item.is_unique
    for col in ("item", "paper", "library"):
        assert (t[col].astype(str).str.strip() != "").all(), (tid, col)
    # the flag rule: empty exactly where the two values agree (spaces ignored), else "differs[: reason]"
    same = t.paper.str.replace(" ", "") == t.library.str.replace(" ", "")
    assert ((t.flag == "") == same).all(), tid
    assert t.flag[~same].str.startswith("differs").all(), tid


def test_table_s10_at_the_papers_sizes(tables):
    t = tables["tableS10"]
    expected = {"Video Input Resolution (global)": "32 × 112²", "Video Input Resolution (local)": "8 × 96²",
                "Video Patch Size": "4 × 16²", "Audio Input Resolution (global; mel × time)": "80 × 448",
                "Audio Input Resolution (local; mel × time)": "80 × 112", "Audio Patch Size (mel × time)": "4 × 16",
                "Backbone/Encoder": "ViT-Base embed dim:768 depth:12 num heads:12",
                "Decoder": "Transformer embed dim:384 depth:4 num heads:12",
                "Projector": "MLP out dim: 8192 bottleneck dim: 256 hidden dim: 2048 num layers: 3"}
    for item, value in expected.items():
        assert _row(t, item).library == value and _row(t, item).flag == "", item
    # 87.69 M (video encoder, learned positions + cls): printed as "87M", flagged with the rounding reason
    params = _row(t, "Backbone/Encoder parameters (printed 'ViT-Base (87M)')")
    assert params.library.startswith("87.69M (video)") and params.flag.startswith("differs: rounding")


def test_a_changed_config_is_flagged():
    base = XKDConfig.paper()
    shallow = base.replace(video=base.video.replace(depth=6), audio=base.audio.replace(depth=6))
    t = xc.table_s10(shallow)
    enc = _row(t, "Backbone/Encoder")
    assert enc.library == "ViT embed dim:768 depth:6 num heads:12" and enc.flag == "differs"
    assert _row(t, "Backbone/Encoder parameters (printed 'ViT-Base (87M)')").flag == "differs"   # no rounding reason
    assert _row(t, "Video Patch Size").flag == ""
    only_video = base.replace(video=base.video.replace(decoder_depth=2))
    dec = _row(xc.table_s10(only_video), "Decoder")
    assert "video: " in dec.library and "audio: " in dec.library and dec.flag == "differs"

    item = "Video Mask Ratio (printed '0.85%', a typo for 85 %)"
    assert _row(xc.table_s11(), item).flag == ""
    changed = _row(xc.table_s11(base.replace(mask_ratio_v=0.9)), item)
    assert changed.library == "0.90" and changed.flag == "differs"
    # the EMA cosine needs a run length: absent at paper scale (flagged), present in a chapter's arm (not)
    assert _row(xc.table_s11(), "EMA Scheduler").flag.startswith("differs: the cosine")
    armed = xc.table_s11(base.replace(ema_total_steps=1000))
    assert _row(armed, "EMA Scheduler").flag == "" and _row(armed, "EMA Final").library == "1"
    assert _row(armed, "EMA Final").flag == ""


def test_table_s11_hand_checked(tables):
    t = tables["tableS11"]
    for item, value in (("Optimizer", "AdamW"), ("Optimizer Betas", "[0.9, 0.95]"), ("EMA Base", "0.997"),
                        ("Audio Mask Ratio (printed '0.80%', a typo for 80 %)", "0.80"), ("Video Teacher Temp.", "0.1"),
                        ("Audio Teacher Temp.", "0.07"), ("Center Momentum", "0.9"),
                        ("Loss weights λ_ae, λ_da, λ_kd (Eq. 12; not in Table S11)", "5, 1, 1")):
        assert _row(t, item).library == value and _row(t, item).flag == "", item
    # the `paper` profile's optimisation is every chapter's (MAE / VideoMAE's lr, TrainConfig's weight decay)
    assert _row(t, "LR Base").library == "0.00015" and _row(t, "LR Base").flag.startswith("differs: ")
    assert _row(t, "Weight Decay").library == "0.05" and _row(t, "Weight Decay").flag.startswith("differs: ")


def test_table_s12_reads_the_study_layers_fine_tuning_protocol(tables):
    from maskedav.profiles import get_profile

    t = tables["tableS12"]
    E = get_profile("paper").eval
    for item, value in (("Optimizer", "AdamW"), ("Optimizer Betas", "[0.9, 0.999]"), ("Weight Decay", "0.05"),
                        ("Label Smoothing", "0.1"), ("Drop Path", "0"), ("LR Warm-up (start value)", "0")):
        assert _row(t, item).library == value and _row(t, item).flag == "", item
    # the protocol: warm-up a twentieth of the steps, lr 1e-3 to 0, no layer decay, no dropout before the head
    assert _row(t, "LR Warm-up Epochs").library == f"{max(E.finetune_steps // 20, 1)} steps"
    assert _row(t, "Epochs").library.startswith(f"{E.finetune_steps} steps on {E.finetune_train:,}")
    assert _row(t, "LR Base").library == "0.001" and _row(t, "LR Final").library == "0"
    assert _row(t, "Layer-wise LR Decay").library == "none"
    assert _row(t, "Dropout (before the classifier)").library == "0"
    for item in ("RandAug (magnitude, std: '.05' read as 0.5, spec §9.20)", "MixUp", "CutMix"):
        assert _row(t, item).library == "not implemented" and _row(t, item).flag.startswith("differs: not implemented")
    f = xc.finetune_protocol("paper")
    assert f["config"].steps == E.finetune_steps and f["model"].label_smoothing == 0.1


def test_augmentation_tables_say_not_applied_with_the_reason(tables):
    s7, s8 = tables["tableS7"], tables["tableS8"]
    # the printed "n/a" (not applied) cells agree with the library; every printed augmentation is flagged
    assert (s7[s7.paper == "not applied"].flag == "").all() and (s8[s8.paper == "not applied"].flag == "").all()
    assert s7[s7.paper != "not applied"].flag.str.startswith("differs: ").all()
    assert s8[s8.paper != "not applied"].flag.str.startswith("differs: ").all()
    local = _row(s7, "Multi-Scale Crop: crop scale (local view)")
    assert local.library.startswith("fixed 96×96 crop of 112×112") and "8 of 32 frames" in local.library
    assert "random 112-frame segment of the 448-frame fbank" in _row(s8, "Random Crop: range (local view)").library
    assert _row(s7, "Horizontal Flip: probability (global view)").library == "not applied"


def test_table_s9_sharing_of_the_built_models_matches_the_spec():
    # spec §2.6 (Table S9): input projection / teacher / student / decoder; S shared, NS not shared
    spec = {"mas": ("NS", "NS", "S", "NS"), "mats": ("NS", "S", "S", "NS"), "mat": ("NS", "S", "NS", "NS"),
            "none": ("NS", "NS", "NS", "NS")}
    columns = ("input projection (patch embeddings, students and teachers)", "teacher transformer blocks",
               "student transformer blocks", "decoders")
    matrix = xc.sharing_matrix("smoke")
    for s, row in spec.items():
        assert tuple(matrix[s][c] for c in columns) == row, s
        # code (spec §2.6): positions, cls, final norm and heads stay per modality in every variant
        assert {v for k, v in matrix[s].items() if k not in columns} == {"NS"}, s
    t = xc.table_s9()
    assert len(t) == 4 * len(xc.SHARING_PARTS) and (t.flag == "").all()
    assert _row(t, "XKD-MATS: teacher transformer blocks").library == "S"


def test_shared_detects_partial_sharing():
    a, b = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)), torch.nn.Linear(2, 2)
    c = torch.nn.Sequential(a[0], b)
    assert xc._shared(a, a) == "S" and xc._shared(a, b) == "NS" and xc._shared(a, c) == "partly"
    assert xc._shared(None, None) == "S" and xc._shared(a[0].weight, a[0].weight) == "S"


def _smoke_model_and_batch(B=4, **changes):
    torch.manual_seed(0)
    m = XKD(XKDConfig.from_profile("smoke", **changes))
    g = torch.Generator().manual_seed(0)
    v, a = m.config.video, m.config.audio
    return m, {"video": torch.rand(B, 3, *v.input_size, generator=g),
               "fbank": torch.randn(B, *a.input_size, generator=g)}


def test_fig1_is_a_traced_pass_of_the_model_and_changes_nothing():
    import matplotlib.figure
    import matplotlib.pyplot as plt

    import maskedav.methods.xkd as X

    m, batch = _smoke_model_and_batch()
    assert m.config.video.input_size == (8, 32, 32)
    originals = {name: getattr(X, name) for name in xc.PROBED}
    state = {k: v.clone() for k, v in m.state_dict().items()}
    gen = m.generator.get_state()
    fig, trace, losses = xc.fig1_figure(m, batch)
    try:
        assert isinstance(fig, matplotlib.figure.Figure) and len(trace) > 0
        classes = [c["class"] for c in trace]
        order = {name: classes.index(name) for name in ("cls_attention", "cross_modal_attention", "refine",
                                                        "dino_distillation", "mmd_multi_kernel")}
        assert order["cls_attention"] < order["cross_modal_attention"] < order["refine"]
        assert classes.count("ViTEncoder") == 2 and classes.count("MAEDecoder") == 2
        assert classes.count("encode_view") == 4 and classes.count("refine") == 2
        assert classes.count("mmd_multi_kernel") == 2                       # students and teachers (default L_da)
        assert {c["group"] for c in trace} == set(xc.GROUPS)
        # shapes: the masked global view keeps int(64 · 0.15) = 9 of 64 video tokens (+ cls)
        c = m.config
        first = trace[0]
        assert first["class"] == "ViTEncoder" and first["out"] == f"4×10×{c.video.dim}"
        teacher = next(t for t in trace if t["class"] == "encode_view" and "teacher" in t["name"])
        assert teacher["out"] == f"4×65×{c.video.dim}, 4×{c.video.heads}×64"
        assert all(math.isfinite(v) for v in losses.values()) and {"L_xkd", "L_recon^v", "L_recon^a"} <= set(losses)
        assert "L_xkd = " in fig.axes[0].get_title()
        # nothing changed: the module's functions, the weights, centres, EMA counter and the generator
        assert all(getattr(X, name) is fn for name, fn in originals.items())
        for k, v in m.state_dict().items():
            torch.testing.assert_close(v, state[k], msg=k)
        assert torch.equal(m.generator.get_state(), gen)
        with torch.no_grad():
            again, _ = m(batch)
        assert float(again) == pytest.approx(losses["L_xkd"])
    finally:
        plt.close(fig)


def test_fig1_traces_the_l_da1_cross_terms_only_when_they_count():
    import matplotlib.pyplot as plt

    m, batch = _smoke_model_and_batch(da="da2")
    trace = xc.architecture_trace(m, batch)
    assert sum(c["class"] == "mmd_multi_kernel" for c in trace) == 3
    plt.close("all")
