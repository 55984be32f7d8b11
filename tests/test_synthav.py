"""SynthAV: determinism, splits, shapes, labels, reversal pairs, audio-visual correspondence."""
import math

import pytest
import torch

from maskedav.data import synthav as S
from maskedav.data.synthav import SynthAVConfig, generate, generate_images

CFG = SynthAVConfig(frames=8, image_size=32, fps=8.0, n_pretrain=96, n_train=80, n_val=16, n_test=48,
                    n_images=16)


@pytest.fixture(scope="module")
def clips():
    return generate(CFG, "train", range(80))


def test_same_clip_bit_for_bit_across_calls_and_batch_sizes(clips):
    again = generate(CFG, "train", range(80))
    alone = generate(CFG, "train", [67])
    middle = generate(CFG, "train", range(60, 70))     # crosses nothing; 80 crosses the 64-clip chunk
    for key in ("video", "audio", "source_mask"):
        assert torch.equal(clips[key], again[key])
        assert torch.equal(clips[key][67], alone[key][0])
        assert torch.equal(clips[key][60:70], middle[key])
    for task in S.TASKS:
        assert torch.equal(clips["labels"][task][60:70], middle["labels"][task])


def test_profile_sizes_and_clip_length():
    cfg = SynthAVConfig.from_profile("smoke")
    assert (cfg.frames, cfg.image_size, cfg.n_train, cfg.n_test) == (8, 32, 64, 64)
    assert cfg.num_samples == 16000 and cfg.clip_seconds == 1.0
    assert SynthAVConfig.from_profile("gpu", n_train=10).n_train == 10


def test_shapes_ranges_and_dtypes(clips):
    B = 80
    assert clips["video"].shape == (B, 3, 8, 32, 32) and clips["video"].dtype == torch.float32
    assert 0.0 <= clips["video"].min() and clips["video"].max() <= 1.0
    assert clips["audio"].shape == (B, 16000) and clips["audio"].abs().max() <= 1.0
    assert clips["audio"].std(dim=1).min() > 0.01          # every clip has sound
    assert clips["source_mask"].shape == (B, 8, 32, 32) and clips["source_mask"].dtype == torch.bool
    assert torch.equal(clips["index"], torch.arange(B))


def test_labels_in_range_and_defined_by_the_scene(clips):
    meta, labels = clips["meta"], clips["labels"]
    for task in S.TASKS:
        y = labels[task]
        assert y.dtype == torch.long and 0 <= y.min() and y.max() < S.num_classes(task, CFG)
    rows = torch.arange(len(labels["sound"]))
    assert torch.equal(labels["appearance"], meta["shape"][:, 0])
    assert torch.equal(labels["sound"], meta["material"][rows, meta["sounding"]])
    assert torch.equal(labels["av_event"], meta["shape"][rows, meta["sounding"]])
    assert (meta["sounding"] < meta["n_objects"]).all()
    # shapes and materials are distinct within a clip
    for b in range(len(rows)):
        n = int(meta["n_objects"][b])
        assert len(set(meta["shape"][b, :n].tolist())) == n
        assert len(set(meta["material"][b, :n].tolist())) == n
    assert S.num_classes("motion") == 13 and S.num_classes("appearance", CFG.with_(digits=True)) == 15


def test_splits_use_disjoint_seed_streams():
    seeds = {S.split_seed(CFG, s) for s in S.SPLITS + S.IMAGE_SETS}
    assert len(seeds) == len(S.SPLITS + S.IMAGE_SETS)
    audio = {s: generate(CFG, s, range(16))["audio"] for s in S.SPLITS}
    for a in S.SPLITS:
        for b in S.SPLITS:
            if a < b:
                assert not (audio[a][:, None] == audio[b][None]).all(-1).any(), (a, b)
    # the base seed moves every split
    assert not torch.equal(generate(CFG.with_(seed=1), "test", [0])["audio"], audio["test"][:1])


@pytest.mark.parametrize("first,second", S.REVERSAL_PAIRS)
def test_reversal_pairs_are_the_same_frames_in_reverse_order(first, second):
    idx = range(12)
    a = generate(CFG, "train", idx, motion=S.MOTIONS.index(first), audio=False)
    b = generate(CFG, "train", idx, motion=S.MOTIONS.index(second), audio=False)
    assert torch.equal(b["video"], a["video"].flip(2))
    # so every bag-of-frames statistic agrees (sorted values and max exactly; the mean to rounding)
    assert torch.equal(a["video"].amax(2), b["video"].amax(2))
    assert torch.allclose(a["video"].mean(2), b["video"].mean(2), atol=1e-6)
    assert torch.equal(a["video"].sort(dim=2).values, b["video"].sort(dim=2).values)
    assert not torch.equal(a["video"], b["video"])        # but the clips do differ in order
    assert torch.equal(a["labels"]["appearance"], b["labels"]["appearance"])


def test_motion_classes_move_the_actor_as_named():
    def track(name):
        g = generate(CFG, "val", range(8), motion=S.MOTIONS.index(name), audio=False)["meta"]
        return g
    right, left = track("right"), track("left")
    assert (right["cx"][:, 0, -1] > right["cx"][:, 0, 0] + 0.1).all()
    assert (left["cx"][:, 0, -1] < left["cx"][:, 0, 0] - 0.1).all()
    down = track("down")
    assert (down["cy"][:, 0, -1] > down["cy"][:, 0, 0] + 0.1).all()   # y points down
    grow, shrink = track("grow"), track("shrink")
    assert (grow["scale"][:, 0, -1] > grow["scale"][:, 0, 0]).all()
    assert (shrink["scale"][:, 0, -1] < shrink["scale"][:, 0, 0]).all()
    appear = track("appear")
    assert (~appear["visible"][:, 0, 0]).all() and appear["visible"][:, 0, -1].all()
    bounce = track("bounce")
    dx = bounce["cx"][:, 0].diff(dim=1)
    dy = bounce["cy"][:, 0].diff(dim=1)
    flips = ((dx[:, 1:] * dx[:, :-1]) < 0) | ((dy[:, 1:] * dy[:, :-1]) < 0)
    assert flips.any(dim=1).all()                      # at least one wall hit in every bounce clip


def _frame_pitch(audio, fps, sr, frames):
    """Dominant frequency (Hz) of each frame's audio window (zero-padded FFT)."""
    hop = int(sr / fps)
    windows = audio[:, : hop * frames].reshape(audio.shape[0], frames, hop)
    spec = torch.fft.rfft(windows * torch.hann_window(hop), n=8 * hop).abs()
    freqs = torch.fft.rfftfreq(8 * hop, 1 / sr)
    band = (freqs > 120) & (freqs < 1000)
    return freqs[band][spec[..., band].argmax(-1)]


def test_audio_pitch_follows_the_sounding_objects_height():
    cfg = CFG.with_(sounding="actor", audio_snr_db=30.0)
    g = generate(cfg, "test", range(48), motion=S.MOTIONS.index("down"))
    sine = g["labels"]["sound"] == S.SOUNDS.index("sine")
    reed = g["labels"]["sound"] == S.SOUNDS.index("reed")
    keep = sine | reed                                    # the fundamental is the strongest partial
    assert keep.sum() >= 6
    f = _frame_pitch(g["audio"][keep], cfg.fps, cfg.sample_rate, cfg.frames)
    y = g["meta"]["cy"][keep, 0]
    expected = 200.0 * 2 ** (2 * (1 - y))
    assert ((f / expected - 1).abs() < 0.06).float().mean() > 0.9
    corr = torch.corrcoef(torch.stack([torch.log(f).flatten(), y.flatten()]))[0, 1]
    assert corr < -0.95                                   # lower on screen = lower pitch


def test_amplitude_modulation_follows_horizontal_position():
    cfg = CFG.with_(sounding="actor", audio_snr_db=40.0, frames=16, fps=8.0)
    g = generate(cfg, "test", range(48), motion=S.MOTIONS.index("static"))
    tonal = g["labels"]["sound"] != S.SOUNDS.index("noise band")
    env = g["audio"][tonal].abs().unfold(1, 160, 160).amax(-1)        # 10 ms envelope
    env = env - env.mean(1, keepdim=True)
    spec = torch.fft.rfft(env, n=4 * env.shape[1]).abs()
    freqs = torch.fft.rfftfreq(4 * env.shape[1], 0.01)
    band = (freqs > 2) & (freqs < 15)
    rate = freqs[band][spec[:, band].argmax(1)]
    x = g["meta"]["cx"][tonal, 0, 0]
    assert ((rate - (3 + 10 * x)).abs() < 0.6).float().mean() > 0.8


def test_onsets_on_event_frames():
    cfg = CFG.with_(sounding="actor", audio_snr_db=40.0)
    g = generate(cfg, "train", range(24), motion=S.MOTIONS.index("bounce"))
    hop = int(cfg.sample_rate / cfg.fps)
    checked = 0
    for b, k in g["meta"]["events"].nonzero().tolist():
        if k == 0:
            continue
        after = g["audio"][b, k * hop: k * hop + 480].pow(2).mean()
        before = g["audio"][b, k * hop - 480: k * hop].pow(2).mean()
        assert after > 1.5 * before, (b, k)
        checked += 1
    assert checked >= 10
    assert g["meta"]["events"].any(1).all()               # every bounce clip hits a wall


def test_appear_starts_the_sound_and_disappear_ends_it():
    cfg = CFG.with_(sounding="actor", audio_snr_db=40.0)
    hop = int(cfg.sample_rate / cfg.fps)
    for name, silent_at_start in (("appear", True), ("disappear", False)):
        g = generate(cfg, "train", range(6), motion=S.MOTIONS.index(name))
        vis = g["meta"]["visible"][:, 0]
        rms = g["audio"].reshape(6, cfg.frames, hop)[..., 200:-200].pow(2).mean(-1).sqrt()
        loud, quiet = rms[vis], rms[~vis]
        assert loud.min() > 5 * quiet.max()
        assert bool(vis[:, 0].logical_not().all()) == silent_at_start


def test_source_mask_is_the_sounding_object(clips):
    meta, mask = clips["meta"], clips["source_mask"]
    rows = torch.arange(len(mask))
    s = meta["sounding"]
    vis = meta["visible"][rows, s]                             # (B, T)
    assert not mask[~vis].any()                                # nothing when it is not shown
    # centroid of the mask = centre of the sounding object, when it is on top and inside the frame
    on_top = (s == 0) & (clips["labels"]["motion"] != S.MOTIONS.index("occluded"))
    cx, cy, sc = (meta[k][rows, s] for k in ("cx", "cy", "scale"))
    inside = (cx - sc > 0) & (cx + sc < 1) & (cy - sc > 0) & (cy + sc < 1) & vis
    grid = (torch.arange(32) + 0.5) / 32
    checked = 0
    for b, t in (inside & on_top[:, None]).nonzero().tolist():
        m = mask[b, t].float()
        mx = (m.sum(0) * grid).sum() / m.sum()
        my = (m.sum(1) * grid).sum() / m.sum()
        assert abs(mx - cx[b, t]) < 0.06 and abs(my - cy[b, t]) < 0.06
        checked += 1
    assert checked > 50
    # the masked pixels have the sounding object's colour
    rgb = S.R.MATERIAL_RGB
    for b in range(len(mask)):
        m = mask[b]
        if m.sum() < 10:
            continue
        mean = clips["video"][b][:, m].mean(1)
        direction = mean / mean.norm()
        best = (rgb / rgb.norm(dim=1, keepdim=True) @ direction).argmax()
        assert best == clips["labels"]["sound"][b]


def test_snr_and_video_degradations():
    clean = generate(CFG.with_(audio_snr_db=200.0), "val", range(4))
    noisy = generate(CFG.with_(audio_snr_db=10.0), "val", range(4))
    ratio = (noisy["audio"] - clean["audio"]).pow(2).mean(1).sqrt() / clean["audio"].pow(2).mean(1).sqrt()
    assert torch.allclose(ratio, torch.full_like(ratio, 10 ** (-10 / 20)), rtol=0.08)

    def roughness(v):
        return (v[..., 1:] - v[..., :-1]).abs().mean()
    sharp = clean["video"]
    low = generate(CFG.with_(downsample=4), "val", range(4), audio=False)["video"]
    blur = generate(CFG.with_(blur_sigma=1.5), "val", range(4), audio=False)["video"]
    noise = generate(CFG.with_(pixel_noise=0.1), "val", range(4), audio=False)["video"]
    assert roughness(low) < 0.6 * roughness(sharp) and roughness(blur) < 0.6 * roughness(sharp)
    assert 0.05 < (noise - sharp).std() < 0.12
    assert torch.equal(noise, generate(CFG.with_(pixel_noise=0.1), "val", range(4), audio=False)["video"])
    assert torch.equal(generate(CFG.with_(downsample=4), "val", range(4), audio=False)["source_mask"],
                       clean["source_mask"])


def test_image_sets():
    frames = generate_images(CFG, "frames", range(16))
    unrelated = generate_images(CFG, "unrelated", range(16))
    for imgs in (frames, unrelated):
        assert imgs["image"].shape == (16, 3, 32, 32)
        assert imgs["labels"]["appearance"].max() < S.num_classes("appearance", CFG)
    # a different background distribution: brighter on average
    assert unrelated["image"].mean() > frames["image"].mean() + 0.1
    again = generate_images(CFG, "frames", [5])
    assert torch.equal(again["image"][0], frames["image"][5])


def test_digit_sprites_as_extra_shapes():
    cfg = CFG.with_(digits=True)
    g = generate(cfg, "train", range(16), audio=False)
    assert g["labels"]["appearance"].max() >= 5          # some digits drawn
    assert S.class_names("appearance", cfg)[5] == "digit 0"
    assert torch.isfinite(g["video"]).all()


def test_dataset_and_loader():
    cfg = CFG.with_(n_train=40)
    ds = S.SynthAV(cfg, "train", task="motion")
    item = ds[3]
    ref = generate(cfg, "train", [3])
    assert torch.equal(item["video"], ref["video"][0]) and item["label"] == ref["labels"]["motion"][0]
    assert "labels" not in S.SynthAV(cfg, "pretrain")[0]          # pre-training data is unlabeled
    for cache in (True, False):
        loader = ds.loader(16, shuffle=True, seed=1, cache=cache)
        batches = list(loader)
        assert [len(b["index"]) for b in batches] == [16, 16, 8]
        seen = torch.cat([b["index"] for b in batches])
        assert sorted(seen.tolist()) == list(range(40))
        b0 = batches[0]
        ref = generate(cfg, "train", b0["index"])
        assert torch.equal(b0["video"], ref["video"]) and torch.equal(b0["label"], ref["labels"]["motion"])
        epoch2 = torch.cat([b["index"] for b in ds.loader(16, seed=1, cache=cache, drop_last=True)])
        assert len(epoch2) == 32
    assert not torch.equal(seen, torch.cat([b["index"] for b in loader]))   # reshuffled per epoch
    S.clear_cache()


def test_sanity_probe_helpers():
    from maskedav.data import sanity

    g = generate(CFG, "val", range(6), motion=S.MOTIONS.index("right"), audio=False)
    feats = sanity.frame_features(g["video"])
    shuffled = sanity.frame_features(g["video"][:, :, torch.randperm(CFG.frames)])
    assert torch.allclose(feats, shuffled, atol=1e-5)            # a bag of frames: order is invisible
    # reversal-pair accuracy by hand: two "right" clips (label 0), one "left" (label 1), one static
    proba = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.5, 0.5]])
    proba = torch.cat([proba, torch.zeros(4, 11)], dim=1).numpy()
    motion = torch.tensor([0, 0, 1, 11]).numpy()
    acc, n = sanity.reversal_pair_accuracy(proba, motion)
    assert n == 3 and abs(acc - 2 / 3) < 1e-9
    # logistic regression on a separable toy problem
    x = torch.randn(60, 3, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    p = sanity.logistic_probe(x, {"toy": y}, x, C=10.0)["toy"]
    assert (p.argmax(1) == y.numpy()).mean() > 0.95


def test_task_structure_of_av_event():
    """The actor-shape shortcut on av_event: right on every one-object clip, right exactly when the actor
    sounds (shapes are distinct within a clip), and always right when the actor always sounds."""
    from dataclasses import replace

    from maskedav.data.sanity import task_structure

    cfg = SynthAVConfig(n_test=600)
    t = task_structure(cfg).set_index("objects")
    assert t.loc["1", "actor_shape_rule"] == 100.0
    assert (t.actor_shape_rule == t.sounding_is_actor).all()
    assert abs(t.drop(index="all").clips.sum() - 100.0) < 1e-6
    assert 0 < t.loc["all", "actor_shape_rule"] < 100
    assert (task_structure(replace(cfg, sounding="actor")).actor_shape_rule == 100.0).all()
