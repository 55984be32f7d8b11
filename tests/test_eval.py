"""Evaluation: probes, kNN, retrieval, localisation (hand-computed cases) and fine-tuning."""
import math

import pytest
import torch

from maskedav.eval import (extract_features, finetune, iou_per_frame, knn_accuracy, knn_classify,
                           linear_probe, localization, pointing_hits, pool_tokens,
                           retrieval_recall_at_k, svm_probe)
from maskedav.train import TrainConfig
from maskedav.train.toy import ToyEncoder, toy_batch


def separable(n_per_class=30, dim=16, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 6.0 * torch.eye(classes, dim)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    return centres[y] + torch.randn(len(y), dim, generator=g), y


def test_linear_probe_separable_is_perfect():
    (xtr, ytr), (xva, yva), (xte, yte) = separable(seed=0), separable(seed=1), separable(seed=2)
    res = linear_probe(xtr, ytr, xva, yva, xte, yte, weight_decays=(1e-3, 1e-1))
    assert res.test_accuracy == 100.0 and res.val_accuracy == 100.0
    assert res.best_param == 1e-3 and set(res.sweep) == {1e-3, 1e-1}  # first on ties
    assert (res.predict(xte) == yte).all()
    adam = linear_probe(xtr, ytr, xva, yva, xte, yte, solver="adam", epochs=100, weight_decays=(1e-4,))
    assert adam.test_accuracy == 100.0
    svm = svm_probe(xtr, ytr, xva, yva, xte, yte, Cs=(0.1, 1.0))
    assert svm.test_accuracy == 100.0 and svm.param_name == "C"


def test_linear_probe_chance_on_random_labels():
    x, _ = separable(seed=3)
    y = torch.randint(3, (len(x),), generator=torch.Generator().manual_seed(0))
    xt, _ = separable(seed=4)
    yt = torch.randint(3, (len(xt),), generator=torch.Generator().manual_seed(1))
    assert linear_probe(x, y, xt, yt, xt, yt).test_accuracy < 60  # near 33 %, not memorised


def test_knn_hand_computed():
    train_x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    train_y = torch.tensor([0, 0, 1])
    query = torch.tensor([[0.6, 0.8]])  # cosine 0.6, 0.6847, 0.8 to the three
    pred, scores = knn_classify(train_x, train_y, query, k=3, temperature=0.1)
    cos1 = (0.54 + 0.08) / (0.82 ** 0.5)
    assert scores[0, 0].item() == pytest.approx(math.exp(6.0) + math.exp(cos1 / 0.1), rel=1e-4)
    assert scores[0, 1].item() == pytest.approx(math.exp(8.0), rel=1e-4)
    assert pred.tolist() == [1]                                             # e^8 > e^6 + e^6.85
    assert knn_classify(train_x, train_y, query, k=3, temperature=None)[0].tolist() == [0]  # 2 votes to 1
    assert knn_classify(train_x, train_y, query, k=1)[0].tolist() == [1]
    assert knn_accuracy(train_x, train_y, train_x, train_y, k=1) == 100.0


def test_recall_at_k_hand_computed():
    e = torch.eye(3)
    a = e
    b = torch.stack([e[0] + 2 * e[1], e[1], e[2]])
    # a->b: every a_i is closest to b_i. b->a: b_0 is closer to a_1 (0.894) than to a_0 (0.447).
    r = retrieval_recall_at_k(a, b, ks=(1, 2), names=("audio", "video"))
    assert r["audio->video R@1"] == 100.0 and r["audio->video R@2"] == 100.0
    assert r["video->audio R@1"] == pytest.approx(200 / 3) and r["video->audio R@2"] == 100.0
    with pytest.raises(ValueError):
        retrieval_recall_at_k(a, b[:2])


def test_localization_hand_computed():
    ramp = torch.arange(16.0).view(4, 4)
    block = torch.zeros(4, 4)
    block[:2, :2] = 1.0
    top_left = block.bool()
    bottom_row = torch.zeros(4, 4, dtype=torch.bool)
    bottom_row[3] = True
    heat = torch.stack([block, ramp, ramp])
    masks = torch.stack([top_left, top_left, bottom_row])
    # median cut: frame 0 keeps its 4 hot pixels (IoU 1); the ramp keeps values 9..15:
    # none in the top-left block (IoU 0), 4 of the bottom row's 4 with 3 extra (IoU 4/7)
    iou = iou_per_frame(heat, masks)
    assert iou.tolist() == pytest.approx([1.0, 0.0, 4 / 7])
    assert pointing_hits(heat, masks).tolist() == [True, False, True]
    out = localization(heat, masks)
    assert out["cIoU"] == pytest.approx(200 / 3) and out["pointing"] == pytest.approx(200 / 3)
    assert out["mIoU"] == pytest.approx(100 * (1 + 4 / 7) / 3)
    # success 1 at t=0, 2/3 up to t=0.55, 1/3 from t=0.6 to 1 (trapezoids of width 0.05)
    auc = 0.05 * ((1 + 2 / 3) / 2 + 10 * 2 / 3 + (2 / 3 + 1 / 3) / 2 + 8 / 3)
    assert out["AUC"] == pytest.approx(100 * auc)
    assert iou_per_frame(ramp, bottom_row, threshold=0.5).item() == pytest.approx(0.5)  # 8..15
    # (N, T, H, W) inputs and a coarse heat-map upsampled to the mask
    coarse = torch.tensor([[0.0, 0.0], [0.0, 1.0]]).expand(2, 3, 2, 2)
    bottom_right = torch.zeros(2, 3, 4, 4, dtype=torch.bool)
    bottom_right[..., 2:, 2:] = True
    assert localization(coarse, bottom_right)["pointing"] == 100.0


def test_extract_features_and_pools():
    tokens = torch.arange(12.0).view(1, 3, 4)
    assert pool_tokens(tokens, "cls").tolist() == [[0, 1, 2, 3]]
    assert pool_tokens(tokens, "mean").tolist() == [[4, 5, 6, 7]]
    assert pool_tokens(tokens, "mean_patch").tolist() == [[6, 7, 8, 9]]
    assert pool_tokens(tokens, "none").shape == (1, 12)
    enc = ToyEncoder(dim=16).train()
    feats, labels = extract_features(enc, (toy_batch(i, batch_size=5) for i in range(3)), input_key="x")
    assert feats.shape == (15, 16) and labels.shape == (15,) and enc.training
    again, _ = extract_features(enc, [toy_batch(0, batch_size=5)], pool="cls", input_key="x")
    assert torch.equal(again, enc.eval()(toy_batch(0, batch_size=5)["x"])[:, 0].detach())


def test_finetune_learns_and_leaves_encoder_untouched():
    torch.manual_seed(0)
    enc = ToyEncoder(dim=16, depth=2)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    cfg = TrainConfig(steps=40, lr=1e-2, warmup_steps=4, weight_decay=0.05, progress=False)
    res = finetune(enc, lambda s: toy_batch(s, batch_size=16), [toy_batch(10_000 + i, 32) for i in range(2)],
                   num_classes=3, cfg=cfg, input_key="x", layer_decay=0.75)
    assert res.accuracy >= 90.0
    assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())
    assert res.train_result.history[-1]["loss_ce"] < res.train_result.history[0]["loss_ce"]
    assert "train_acc" in res.train_result.history[0]
