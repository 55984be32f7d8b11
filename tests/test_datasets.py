"""Real-dataset adapters on tiny fake on-disk layouts (media files written here with PyAV / Pillow)."""
import json
import math

import numpy as np
import pytest
import torch

from maskedav.data import datasets as D
from maskedav.data.media import MediaError, write_audio, write_video
from maskedav.data.transforms import resize_center_crop

FRAMES, FPS = 6, 8.0


def clip(level: float, size=(24, 32)) -> torch.Tensor:
    return torch.full((3, FRAMES, *size), level)


def tone(freq=440.0, seconds=FRAMES / FPS, sr=16000):
    return 0.3 * torch.sin(2 * math.pi * freq * torch.arange(int(seconds * sr)) / sr)


def video_file(path, level=0.5, audio=True, size=(24, 32)):
    return write_video(path, clip(level, size), tone() if audio else None, fps=FPS)


def check_item(item, *, video=True, audio=False, size=16):
    if video:
        assert item["video"].shape == (3, FRAMES, size, size)
    if audio:
        assert item["audio"].shape == (int(16000 * FRAMES / FPS),)
    assert item["label"].dtype in (torch.int64, torch.float32) and isinstance(item["index"], int)


KW = dict(num_frames=FRAMES, fps=FPS, transform=lambda v: resize_center_crop(v, 16))


def test_ucf101(tmp_path):
    classes = ["ApplyEyeMakeup", "Archery"]
    (tmp_path / "ucfTrainTestlist").mkdir()
    (tmp_path / "ucfTrainTestlist" / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Archery\n")
    train, test = [], []
    for k, c in enumerate(classes):
        for g in (1, 8):
            name = f"{c}/v_{c}_g{g:02d}_c01.avi"
            video_file(tmp_path / "UCF-101" / name, level=0.2 + 0.5 * k)
            (train if g == 8 else test).append(name)
    (tmp_path / "ucfTrainTestlist" / "trainlist01.txt").write_text(
        "".join(f"{n} {classes.index(n.split('/')[0]) + 1}\n" for n in train))
    (tmp_path / "ucfTrainTestlist" / "testlist01.txt").write_text("".join(f"{n}\n" for n in test))
    ds = D.UCF101(tmp_path, "train", audio=True, **KW)
    assert len(ds) == 2 and ds.classes == classes
    labels = [int(ds[i]["label"]) for i in range(2)]
    assert labels == [0, 1]
    check_item(ds[1], audio=True)
    assert abs(float(ds[1]["video"].mean()) - 0.7) < 0.03       # the Archery clip
    test_ds = D.UCF101(tmp_path, "test", **KW)
    assert sorted(int(x["label"]) for x in test_ds) == [0, 1]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["video"].shape == (2, 3, FRAMES, 16, 16) and batch["audio"].shape[0] == 2


def test_hmdb51(tmp_path):
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    for c in ("brush_hair", "cartwheel"):
        lines = []
        for i, ident in enumerate((1, 2, 0)):
            name = f"{c}_{i}.avi"
            video_file(tmp_path / "hmdb51" / c / name, audio=False)
            lines.append(f"{name} {ident} ")
        (splits / f"{c}_test_split1.txt").write_text("\n".join(lines) + "\n")
    train, test = D.HMDB51(tmp_path, "train", **KW), D.HMDB51(tmp_path, "test", **KW)
    assert len(train) == 2 and len(test) == 2 and train.classes == ["brush_hair", "cartwheel"]
    assert [int(x["label"]) for x in test] == [0, 1]
    check_item(train[0])


def test_kinetics_and_kinetics_sound(tmp_path):
    rows = [("playing drums", "abc", 10, 20, "train"), ("abseiling", "def", 0, 10, "train"),
            ("singing", "ghi", 5, 15, "train"), ("singing", "zzz", 5, 15, "train")]   # zzz: no file
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n" + "".join(f"{a},{b},{c},{d},{e}\n" for a, b, c, d, e in rows))
    for label, ytid, s, e, _ in rows[:3]:
        video_file(tmp_path / "train" / label / f"{ytid}_{s:06d}_{e:06d}.mp4")
    k400 = D.Kinetics(tmp_path, "train", **KW)
    assert k400.classes == ["abseiling", "playing drums", "singing"] and len(k400) == 3
    assert len(k400.missing) == 1 and "zzz" in k400.missing[0]
    check_item(k400[0])
    ks = D.KineticsSound(tmp_path, "train", **KW)
    assert len(ks) == 2 and ks.classes == list(D.KINETICS_SOUND_CLASSES)
    labels = sorted(int(x["label"]) for x in ks)
    assert labels == sorted([D.KINETICS_SOUND_CLASSES.index("playing drums"), D.KINETICS_SOUND_CLASSES.index("singing")])
    check_item(ks[0], audio=True)


def test_ssv2(tmp_path):
    labels = {"Holding something": "0", "Pushing something from left to right": "1"}
    (tmp_path / "something-something-v2-labels.json").write_text(json.dumps(labels))
    entries = [{"id": "11", "label": "pushing a cup from left to right",
                "template": "Pushing [something] from left to right", "placeholders": ["a cup"]},
               {"id": "12", "label": "holding a pen", "template": "Holding [something]", "placeholders": ["a pen"]}]
    (tmp_path / "something-something-v2-train.json").write_text(json.dumps(entries))
    for e in entries:
        write_video(tmp_path / "20bn-something-something-v2" / f"{e['id']}.webm", clip(0.4), fps=FPS)
    ds = D.SSv2(tmp_path, "train", **KW)
    assert [int(x["label"]) for x in ds] == [1, 0]
    assert ds.classes == ["Holding something", "Pushing something from left to right"]
    check_item(ds[0])


def test_audioset_multilabel(tmp_path):
    (tmp_path / "class_labels_indices.csv").write_text(
        'index,mid,display_name\n0,/m/09x0r,"Speech"\n1,/m/04rlf,"Music"\n2,/m/0jbk,"Animal"\n')
    (tmp_path / "balanced_train_segments.csv").write_text(
        "# Segments csv created Sun Mar  5 10:54:31 2017\n"
        "# num_ytids=2, num_segs=2, num_unique_labels=3, num_positive_labels=3\n"
        "# YTID, start_seconds, end_seconds, positive_labels\n"
        '--aaa, 30.000, 40.000, "/m/09x0r,/m/04rlf"\n'
        '--bbb, 0.000, 10.000, "/m/0jbk"\n')
    write_audio(tmp_path / "balanced_train" / "--aaa_30000.wav", tone(seconds=10.0, sr=32000), 32000)
    write_audio(tmp_path / "balanced_train" / "Y--bbb.flac", tone(seconds=9.0), 16000)
    ds = D.AudioSet(tmp_path, "balanced_train_segments.csv")
    assert len(ds) == 2 and ds.classes == ["Speech", "Music", "Animal"]
    assert torch.equal(ds[0]["label"], torch.tensor([1.0, 1.0, 0.0]))
    assert torch.equal(ds[1]["label"], torch.tensor([0.0, 0.0, 1.0]))
    assert ds[0]["audio"].shape == (160000,) and ds[1]["audio"].shape == (160000,)   # 10 s, padded
    assert "video" not in ds[0]


def test_vggsound(tmp_path):
    (tmp_path / "vggsound.csv").write_text("---g-f_I2yQ,1,people marching,test\nabc,30,dog barking,train\n")
    video_file(tmp_path / "video" / "abc_000030.mp4")
    video_file(tmp_path / "video" / "---g-f_I2yQ_000001.mp4")
    train, test = D.VGGSound(tmp_path, "train", **KW), D.VGGSound(tmp_path, "test", **KW)
    assert len(train) == 1 and len(test) == 1 and train.classes == ["dog barking", "people marching"]
    assert int(train[0]["label"]) == 0 and int(test[0]["label"]) == 1
    check_item(train[0], audio=True)


def test_esc50_folds_and_resampling(tmp_path):
    (tmp_path / "meta").mkdir()
    rows = [("1-100-A-0.wav", 1, 0, "dog"), ("2-200-A-1.wav", 2, 1, "rooster"), ("3-300-A-0.wav", 3, 0, "dog")]
    (tmp_path / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n"
        + "".join(f"{f},{fold},{t},{c},True,x,A\n" for f, fold, t, c in rows))
    for f, *_ in rows:
        write_audio(tmp_path / "audio" / f, tone(1000.0, 5.0, 44100), 44100)
    train, test = D.ESC50(tmp_path, "train", fold=1), D.ESC50(tmp_path, "test", fold=1)
    assert len(train) == 2 and len(test) == 1 and train.classes == ["dog", "rooster"]
    a = test[0]["audio"]
    assert a.shape == (80000,)                               # 5 s at 16 kHz
    spec = torch.fft.rfft(a).abs()
    assert abs(float(torch.fft.rfftfreq(len(a), 1 / 16000)[spec.argmax()]) - 1000.0) < 2.0


def test_image_folder(tmp_path):
    from PIL import Image

    for c, value in (("cat", 50), ("dog", 200)):
        (tmp_path / "train" / c).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((10, 12, 3), value, np.uint8)).save(tmp_path / "train" / c / f"{i}.png")
    ds = D.ImageFolder(tmp_path, "train", transform=lambda x: resize_center_crop(x, 8))
    assert len(ds) == 4 and ds.classes == ["cat", "dog"]
    item = ds[3]
    assert item["image"].shape == (3, 8, 8) and int(item["label"]) == 1
    assert abs(float(item["image"].mean()) - 200 / 255) < 1e-3


def test_bad_items_are_skipped_counted_and_reported(tmp_path):
    (tmp_path / "ucfTrainTestlist").mkdir()
    (tmp_path / "ucfTrainTestlist" / "classInd.txt").write_text("1 A\n")
    names = ["A/good1.avi", "A/empty.avi", "A/garbage.avi", "A/good2.avi", "A/noaudio.avi"]
    video_file(tmp_path / "UCF-101" / names[0])
    (tmp_path / "UCF-101" / "A" / "empty.avi").write_bytes(b"")
    (tmp_path / "UCF-101" / "A" / "garbage.avi").write_bytes(b"\x00\x01 not a video" * 100)
    video_file(tmp_path / "UCF-101" / names[3])
    video_file(tmp_path / "UCF-101" / names[4], audio=False)
    (tmp_path / "ucfTrainTestlist" / "trainlist01.txt").write_text(
        "".join(f"{n} 1\n" for n in names) + "A/not_there.avi 1\n")
    strict = D.UCF101(tmp_path, "train", audio=True, **KW)
    assert len(strict) == 5 and len(strict.missing) == 1
    with pytest.raises(MediaError, match="empty.avi"):
        strict[1]
    with pytest.raises(MediaError, match=r"noaudio.avi.*no audio stream"):
        strict[4]
    lenient = D.UCF101(tmp_path, "train", audio=True, skip_bad=True, **KW)
    items = [lenient[i] for i in range(len(lenient))]
    assert all(x["video"].shape == (3, FRAMES, 16, 16) for x in items)
    assert [x["index"] for x in items] == [0, 3, 3, 3, 0]      # bad items replaced by the next good one
    assert lenient.skipped == 3
    report = lenient.report()
    assert "3 unreadable" in report and "empty.avi" in report and "garbage.avi" in report
    assert "1 missing" in report
    checked = D.UCF101(tmp_path, "train", audio=True, **KW)
    bad = checked.check(drop=True)
    assert len(bad) == 3 and len(checked) == 2


def test_transforms():
    from maskedav.data import transforms as TR

    video = torch.rand(2, 3, 4, 40, 48)
    norm = TR.normalize_video(video)
    assert torch.allclose(norm[:, 0], (video[:, 0] - 0.485) / 0.229)
    assert torch.allclose(TR.denormalize_video(norm), video, atol=1e-6)
    image = torch.rand(3, 8, 8)
    assert torch.allclose(TR.denormalize_image(TR.normalize_image(image)), image, atol=1e-6)
    # VideoMAE's crop grid: sizes int(40 * scale) within one scale step, offsets on a 4-step grid
    assert TR.crop_sizes(48, 40, (32, 32))[0] == (40, 40)
    # int(40 * .75) = 30 is within 3 px of the target 32 and snaps to it; int(40 * .66) = 26
    assert TR.crop_sizes(48, 40, (32, 32)) == [(40, 40), (35, 40), (40, 35), (35, 35), (32, 35), (35, 32),
                                                (32, 32), (26, 32), (32, 26), (26, 26)]
    assert TR.fixed_offsets(48, 40, 32, 32)[:5] == [(0, 0), (16, 0), (0, 8), (16, 8), (8, 4)]
    gen = torch.Generator().manual_seed(0)
    out = TR.VideoMAEAugment(24)(video, gen)
    assert out.shape == (2, 3, 4, 24, 24)
    # one crop per clip: a clip whose frames are equal stays equal across frames
    still = video[:, :, :1].expand(-1, -1, 4, -1, -1)
    cropped = TR.MultiScaleCrop(24)(still, gen)
    assert torch.allclose(cropped[:, :, 0], cropped[:, :, 3])
    flipped = TR.random_flip(video, p=1.0)
    assert torch.equal(flipped, video.flip(-1))
    reps = TR.repeat_augment(video, 3, TR.MultiScaleCrop(24), gen)
    assert reps.shape == (6, 3, 4, 24, 24)
    batch = TR.repeat_batch({"label": torch.tensor([5, 7]), "labels": {"a": torch.tensor([1, 2])}}, 3)
    assert batch["label"].tolist() == [5, 5, 5, 7, 7, 7] and batch["labels"]["a"].tolist() == [1, 1, 1, 2, 2, 2]
    assert TR.resize_center_crop(torch.rand(3, 2, 30, 60), 16).shape == (3, 2, 16, 16)


def _ucf_with_bad_files(tmp_path, names):
    (tmp_path / "ucfTrainTestlist").mkdir()
    (tmp_path / "ucfTrainTestlist" / "classInd.txt").write_text("1 A\n")
    for n in names:
        if "garbage" in n:
            (tmp_path / "UCF-101" / n).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "UCF-101" / n).write_bytes(b"\x00\x01 not a video" * 100)
        else:
            video_file(tmp_path / "UCF-101" / n, audio=False)
    (tmp_path / "ucfTrainTestlist" / "trainlist01.txt").write_text("".join(f"{n} 1\n" for n in names))


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_bad_files_found_in_loader_workers_reach_the_parents_report(tmp_path, context):
    # Issue 11: with num_workers > 0 the bad-file bookkeeping stayed in the workers: "0 unreadable"
    names = ["A/good1.avi", "A/garbage1.avi", "A/good2.avi", "A/garbage2.avi", "A/good3.avi", "A/good4.avi"]
    _ucf_with_bad_files(tmp_path, names)
    ds = D.UCF101(tmp_path, "train", skip_bad=True, num_frames=FRAMES, fps=FPS)   # picklable (spawn)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, multiprocessing_context=context)
    indices = torch.cat([b["index"] for b in loader]).tolist()
    assert indices == [0, 2, 2, 4, 4, 5]                       # each bad item replaced by the next good one
    assert ds.skipped == 2
    report = ds.report()
    assert "2 unreadable" in report and "garbage1.avi" in report and "garbage2.avi" in report
    # a second epoch (fresh workers) does not count them twice; the parent itself skips them too
    list(loader)
    assert ds.skipped == 2 and int(ds[1]["index"]) == 2
    assert ds.skipped == 2


def test_check_drop_keeps_the_count_and_worker_tracking_works_after_it(tmp_path):
    names = ["A/good1.avi", "A/garbage1.avi", "A/good2.avi"]
    _ucf_with_bad_files(tmp_path, names)
    ds = D.UCF101(tmp_path, "train", skip_bad=True, **KW)
    assert [p for p, _ in ds.check(drop=True)] == [str(tmp_path / "UCF-101" / "A" / "garbage1.avi")]
    assert len(ds) == 2 and ds.skipped == 1 and "garbage1.avi" in ds.report()
    ds.items.append((tmp_path / "UCF-101" / "A" / "garbage1.avi", 0))   # put a bad one back at the end
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2)
    assert torch.cat([b["index"] for b in loader]).tolist() == [0, 1, 0]
    assert ds.skipped == 1                                     # the same file, counted once


def test_middle_start_reads_the_frame_on_screen(tmp_path):
    # Issue 11: a start between two frames gave the next frame (start="middle" nearly always does)
    frames, fps = 30, 25.0
    levels = (torch.arange(frames, dtype=torch.float32) + 1) / (frames + 1)
    write_video(tmp_path / "v.mp4", levels.view(1, frames, 1, 1).expand(3, frames, 16, 16).clone(), fps=fps)
    ds = D.MediaDataset([(tmp_path / "v.mp4", 0)], ["a"], num_frames=4, fps=7.5, start="middle")
    start = ds._start(tmp_path / "v.mp4")
    ids = [round(float(v) * (frames + 1) - 1) for v in ds[0]["video"].mean((0, 2, 3))]
    assert ids == [math.floor(fps * (start + k / 7.5) + 1e-6) for k in range(4)]
