"""Adapters for the real datasets of the papers, reading their standard on-disk layouts.

Every adapter is a :class:`MediaDataset` whose items have the same layout as SynthAV batches:
``video (3, T, H, W)`` float in [0, 1] (video datasets), ``audio (S,)`` float mono at
``sample_rate`` (when audio is read), ``image (3, H, W)`` (image folders), ``label`` (an int; a
multi-hot float vector for AudioSet) and ``index``. Give a ``transform`` (e.g.
``lambda v: resize_center_crop(v, 224)``) so that clips of different sizes batch together.

Layouts (``root`` is the dataset folder; every path can be overridden):

=============  =============================================================================
UCF101         ``UCF-101/<Class>/v_<Class>_gXX_cYY.avi``; ``ucfTrainTestlist/classInd.txt``,
               ``trainlist0{fold}.txt`` (``Class/file.avi N``), ``testlist0{fold}.txt``
HMDB51         ``hmdb51/<class>/<file>.avi``; ``testTrainMulti_7030_splits/<class>_test_split{fold}.txt``
               (``file.avi 1|2|0``: train / test / unused)
Kinetics-400   ``annotations/{train,validate,test}.csv`` (``label,youtube_id,time_start,time_end,...``);
               ``<split>/[<label>/]<youtube_id>_<start:06d>_<end:06d>.mp4``; Kinetics-Sound =
               the same with a class subset
SSv2           ``something-something-v2-labels.json``, ``something-something-v2-{train,validation}.json``;
               ``20bn-something-something-v2/<id>.webm``
AudioSet       ``<segments>.csv`` (``# YTID, start_seconds, end_seconds, positive_labels``),
               ``class_labels_indices.csv``; media named by YouTube id (+ start) in ``<split>/``
VGGSound       ``vggsound.csv`` (``ytid,start,label,split``, no header); ``video/<ytid>_<start:06d>.mp4``
ESC-50         ``meta/esc50.csv`` (``filename,fold,target,category,...``); ``audio/<filename>``
ImageFolder    ``<split>/<class>/<image>.{jpg,jpeg,png,bmp}``
=============  =============================================================================

Bad files raise :class:`~maskedav.data.media.MediaError` naming the file, unless the dataset is
built with ``skip_bad=True``: then the item is replaced by the next readable one, and the dataset
counts the bad files (``skipped``) and lists them with the reason (``bad_items``, :meth:`report`).
The record of which items are bad is a shared-memory flag per item, so files found bad inside
``DataLoader`` worker processes are counted in the parent's ``skipped`` / ``report()`` too (and are
skipped by the other workers); the reason text stays in the process that read the file.
Items listed in the split files whose media file is missing are counted in ``missing`` at
construction time.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import torch

from .media import MediaError, probe, read_audio, read_image, read_video

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# Kinetics-Sound: the 31 Kinetics-400 classes with a clear audio signature used by recent AV work
# (e.g. OGM-GE's KineticsSound list; the original definition, Arandjelovic & Zisserman 2017, lists
# more). Pass your own list to :class:`KineticsSound` to match a paper exactly.
KINETICS_SOUND_CLASSES = (
    "blowing nose", "blowing out candles", "bowling", "chopping wood", "dribbling basketball",
    "laughing", "mowing lawn", "playing accordion", "playing bagpipes", "playing bass guitar",
    "playing clarinet", "playing drums", "playing guitar", "playing harmonica", "playing keyboard",
    "playing organ", "playing piano", "playing saxophone", "playing trombone", "playing trumpet",
    "playing violin", "playing xylophone", "ripping paper", "shoveling snow", "shuffling cards",
    "singing", "stomping grapes", "tap dancing", "tapping guitar", "tapping pen", "tickling",
)


_FOUND_IN_WORKER = "unreadable (found in a DataLoader worker process; load(i) re-raises the error)"


class _BadItems:
    """Which items could not be read, shared with ``DataLoader`` worker processes.

    ``flags`` is a bool tensor in shared memory (inherited by forked workers, passed by handle to
    spawned ones), so a bad file found in any worker is visible to the parent and to the other
    workers. ``reasons`` (error messages) are local to the process that read the file; ``dropped``
    keeps the items that :meth:`MediaDataset.check` removed from ``items``.
    """

    def __init__(self, n: int):
        self.flags = torch.zeros(n, dtype=torch.bool).share_memory_()
        self.reasons: dict[int, str] = {}
        self.dropped: dict[str, str] = {}

    def mark(self, i: int, reason: str) -> None:
        self.flags[i] = True
        self.reasons[i] = reason

    def __contains__(self, i: int) -> bool:
        return bool(self.flags[i])

    def as_dict(self, items) -> dict[str, str]:
        out = dict(self.dropped)
        for i in torch.nonzero(self.flags).flatten().tolist():
            out[str(items[i][0])] = self.reasons.get(i, f"{items[i][0]}: {_FOUND_IN_WORKER}")
        return out

    def keep(self, keep: list[int]) -> "_BadItems":
        """The record for ``items[keep]`` (after dropping items)."""
        new = _BadItems(len(keep))
        new.dropped = dict(self.dropped)
        for k, i in enumerate(keep):
            new.flags[k] = self.flags[i]
            if i in self.reasons:
                new.reasons[k] = self.reasons[i]
        return new


class _SkipBad:
    """``skip_bad`` bookkeeping shared by :class:`MediaDataset` and :class:`ImageFolder`."""

    skip_bad: bool
    name: str
    _bad_record: _BadItems | None = None

    @property
    def items(self) -> list:
        """``[(path, label)]``; assigning a new list resets the per-item bad flags (not ``dropped``)."""
        return self._items

    @items.setter
    def items(self, value) -> None:
        self._items = list(value)
        old, self._bad_record = self._bad_record, _BadItems(len(self._items))
        if old is not None:
            self._bad_record.dropped = old.dropped

    def _bad(self) -> _BadItems:
        record = self._bad_record
        if len(record.flags) != len(self._items):   # items appended / removed in place: keep the prefix
            new = _BadItems(len(self._items))
            n = min(len(record.flags), len(self._items))
            new.flags[:n] = record.flags[:n]
            new.reasons = {i: r for i, r in record.reasons.items() if i < n}
            new.dropped = record.dropped
            self._bad_record = record = new
        return record

    @property
    def bad_items(self) -> dict[str, str]:
        """``{path: reason}`` of every item found unreadable so far, by this process or a loader worker."""
        return self._bad().as_dict(self.items)

    @property
    def skipped(self) -> int:
        """How many distinct items could not be read (and were replaced) so far, in any process."""
        bad = self._bad()
        return int(bad.flags.sum()) + len(bad.dropped)

    def __getitem__(self, i: int) -> dict:
        if not self.skip_bad:
            return self.load(i)
        bad = self._bad()
        for attempt in range(len(self)):
            j = (i + attempt) % len(self)
            if j in bad:
                continue
            try:
                return self.load(j)
            except MediaError as err:
                bad.mark(j, str(err))
        raise MediaError(f"{self.name}: no readable item left ({self.skipped} bad files)")


class MediaDataset(_SkipBad, torch.utils.data.Dataset):
    """Items ``(path, label)`` read from media files; see the module docstring for the item layout.

    ``num_frames`` frames are sampled at ``fps`` (or every ``stride``-th frame when ``fps`` is
    None) from ``start`` seconds (``"middle"`` centres the window in the file). Audio covers
    ``audio_seconds`` (default: the video window) from the same start.
    """

    def __init__(self, items: list, classes: list[str], *, video: bool = True, audio: bool = False,
                 num_frames: int = 16, fps: float | None = None, stride: int = 4, start=0.0,
                 sample_rate: int = 16000, audio_seconds: float | None = None, transform=None,
                 skip_bad: bool = False, missing: list | None = None, name: str = ""):
        self.items, self.classes = list(items), list(classes)
        self.video, self.audio = video, audio
        self.num_frames, self.fps, self.stride, self.start = num_frames, fps, stride, start
        self.sample_rate, self.transform, self.skip_bad = sample_rate, transform, skip_bad
        if audio_seconds is None and video and fps is not None:
            audio_seconds = num_frames / fps
        self.audio_seconds = audio_seconds
        self.missing = list(missing or [])
        self.name = name or type(self).__name__

    def __len__(self) -> int:
        return len(self.items)

    def _start(self, path) -> float:
        if self.start != "middle":
            return float(self.start)
        info = probe(path)
        span = self.audio_seconds or (self.num_frames / self.fps if self.fps else 0.0)
        return max(0.0, ((info.duration or 0.0) - span) / 2)

    def load(self, i: int) -> dict:
        """Read item ``i`` (raises :class:`MediaError` naming the file when it cannot)."""
        path, label = self.items[i]
        out = dict(index=i)
        start = self._start(path)
        if self.video:
            clip = read_video(path, self.num_frames, fps=self.fps, stride=self.stride, start=start)
            out["video"] = self.transform(clip) if self.transform else clip
        if self.audio:
            out["audio"] = read_audio(path, self.sample_rate, start=start, duration=self.audio_seconds)
        out["label"] = label if torch.is_tensor(label) else torch.tensor(label)
        return out

    def check(self, drop: bool = False) -> list[tuple[str, str]]:
        """Open every item once; return ``[(path, reason)]`` of the unreadable ones (and drop them)."""
        bad, record = [], self._bad()
        for i, (path, _) in enumerate(list(self.items)):
            try:
                info = probe(path)
                if self.video and not info.has_video:
                    raise MediaError(f"{path}: has no video stream")
                if self.audio and not info.has_audio:
                    raise MediaError(f"{path}: has no audio stream")
            except MediaError as err:
                bad.append((str(path), str(err)))
                record.mark(i, str(err))
        if drop:
            names = {p for p, _ in bad}
            keep = [i for i, it in enumerate(self.items) if str(it[0]) not in names]
            new = record.keep(keep)
            new.dropped.update(bad)
            self.items = [self.items[i] for i in keep]
            self._bad_record = new
        return bad

    def report(self) -> str:
        """Item / unreadable / missing counts, then every unreadable file with its reason."""
        lines = [f"{self.name}: {len(self)} items, {self.skipped} unreadable, {len(self.missing)} missing files"]
        lines += [f"  bad: {reason}" for reason in self.bad_items.values()]
        lines += [f"  missing: {m}" for m in self.missing[:20]]
        return "\n".join(lines)


class ImageFolder(_SkipBad, torch.utils.data.Dataset):
    """ImageNet-style ``<root>/<split>/<class>/<image>``; items ``image (3, H, W)``, ``label``, ``index``."""

    def __init__(self, root, split: str = "train", *, transform=None, skip_bad: bool = False):
        self.root = Path(root) / split if split else Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: image folder does not exist")
        self.classes = sorted(d.name for d in self.root.iterdir() if d.is_dir())
        self.items = [(p, k) for k, c in enumerate(self.classes) for p in sorted((self.root / c).iterdir())
                      if p.suffix.lower() in IMAGE_EXTENSIONS]
        self.transform, self.skip_bad = transform, skip_bad
        self.name = f"ImageFolder/{split}"

    def __len__(self) -> int:
        return len(self.items)

    def load(self, i: int) -> dict:
        path, label = self.items[i]
        image = read_image(path)
        return dict(image=self.transform(image) if self.transform else image, label=torch.tensor(label), index=i)

    def report(self) -> str:
        return "\n".join([f"ImageFolder {self.root}: {len(self)} items, {self.skipped} unreadable"]
                         + [f"  bad: {r}" for r in self.bad_items.values()])


# ---------------------------------------------------------------------------------------- helpers

def _first_dir(root: Path, *names: str) -> Path:
    for name in names:
        if (root / name).is_dir():
            return root / name
    return root


def _media_index(folder: Path, extensions) -> dict[str, Path]:
    """File stem -> path for every media file under ``folder`` (recursive)."""
    index = {}
    if folder.is_dir():
        for p in sorted(folder.rglob("*")):
            if p.suffix.lower() in extensions and p.is_file():
                index.setdefault(p.stem, p)
    return index


def _resolve(index: dict[str, Path], stems, missing: list, label: str):
    for stem in stems:
        if stem in index:
            return index[stem]
    missing.append(f"{label} (looked for {', '.join(stems)})")
    return None


# ------------------------------------------------------------------------------------- adapters

def UCF101(root, split: str = "train", fold: int = 1, *, video_dir=None, split_dir=None, **kwargs) -> MediaDataset:
    """UCF101 with the official ``ucfTrainTestlist`` split ``fold`` (1-3); labels are ``classInd - 1``."""
    root = Path(root)
    video_dir = Path(video_dir) if video_dir else _first_dir(root, "UCF-101", "videos")
    split_dir = Path(split_dir) if split_dir else _first_dir(root, "ucfTrainTestlist", "splits")
    classes = []
    for line in (split_dir / "classInd.txt").read_text().split("\n"):
        if line.strip():
            number, name = line.split()
            classes.append((int(number), name))
    names = [name for _, name in sorted(classes)]
    list_name = {"train": "trainlist", "test": "testlist"}[split]
    items, missing = [], []
    for line in (split_dir / f"{list_name}{fold:02d}.txt").read_text().split("\n"):
        if not line.strip():
            continue
        rel = line.split()[0]
        label = names.index(rel.split("/")[0])
        path = video_dir / rel
        if path.exists():
            items.append((path, label))
        else:
            missing.append(str(path))
    return MediaDataset(items, names, missing=missing, name=f"UCF101/{split}{fold}", **kwargs)


def HMDB51(root, split: str = "train", fold: int = 1, *, video_dir=None, split_dir=None, **kwargs) -> MediaDataset:
    """HMDB51 with ``testTrainMulti_7030_splits`` split ``fold`` (id 1 = train, 2 = test)."""
    root = Path(root)
    video_dir = Path(video_dir) if video_dir else _first_dir(root, "hmdb51", "videos")
    split_dir = Path(split_dir) if split_dir else _first_dir(root, "testTrainMulti_7030_splits", "splits")
    wanted = {"train": "1", "test": "2"}[split]
    files = sorted(split_dir.glob(f"*_test_split{fold}.txt"))
    classes = [f.name[: -len(f"_test_split{fold}.txt")] for f in files]
    items, missing = [], []
    for label, (name, f) in enumerate(zip(classes, files)):
        for line in f.read_text().split("\n"):
            parts = line.split()
            if len(parts) >= 2 and parts[1] == wanted:
                path = video_dir / name / parts[0]
                (items.append((path, label)) if path.exists() else missing.append(str(path)))
    return MediaDataset(items, classes, missing=missing, name=f"HMDB51/{split}{fold}", **kwargs)


def _kinetics_rows(csv_path: Path) -> list[dict]:
    with open(csv_path, newline="") as f:
        return list(csv.DictReader(f))


def Kinetics(root, split: str = "train", *, annotations=None, video_dir=None, classes=None, **kwargs) -> MediaDataset:
    """Kinetics-400 from its csv annotations; ``classes`` (default: sorted labels of the csv) fixes the indices."""
    root = Path(root)
    annotations = Path(annotations) if annotations else _first_dir(root, "annotations") / f"{split}.csv"
    rows = _kinetics_rows(annotations)
    if classes is None:
        classes = sorted({r["label"] for r in rows})
    classes = list(classes)
    index = _media_index(Path(video_dir) if video_dir else _first_dir(root, split, "videos"), VIDEO_EXTENSIONS)
    items, missing = [], []
    for r in rows:
        if r["label"] not in classes:
            continue
        ytid, s, e = r["youtube_id"], int(float(r["time_start"])), int(float(r["time_end"]))
        path = _resolve(index, [f"{ytid}_{s:06d}_{e:06d}", f"{ytid}_{s}_{e}", ytid], missing, ytid)
        if path is not None:
            items.append((path, classes.index(r["label"])))
    return MediaDataset(items, classes, missing=missing, name=f"Kinetics/{split}", **kwargs)


def KineticsSound(root, split: str = "train", *, classes=KINETICS_SOUND_CLASSES, **kwargs) -> MediaDataset:
    """The Kinetics-Sound subset: Kinetics rows whose label is in ``classes`` (re-indexed in that order)."""
    kwargs.setdefault("audio", True)
    ds = Kinetics(root, split, classes=list(classes), **kwargs)
    ds.name = f"KineticsSound/{split}"
    return ds


def SSv2(root, split: str = "train", *, video_dir=None, **kwargs) -> MediaDataset:
    """Something-Something v2; the label is the template (``[something]`` -> ``something``) looked up in the labels json."""
    root = Path(root)
    labels = json.loads((root / "something-something-v2-labels.json").read_text())
    classes = [name for name, _ in sorted(labels.items(), key=lambda kv: int(kv[1]))]
    name = {"train": "train", "val": "validation", "validation": "validation"}[split]
    entries = json.loads((root / f"something-something-v2-{name}.json").read_text())
    index = _media_index(Path(video_dir) if video_dir else _first_dir(root, "20bn-something-something-v2", "videos"),
                         VIDEO_EXTENSIONS)
    items, missing = [], []
    for e in entries:
        template = e["template"].replace("[", "").replace("]", "")
        path = _resolve(index, [str(e["id"])], missing, str(e["id"]))
        if path is not None:
            items.append((path, int(labels[template])))
    return MediaDataset(items, classes, missing=missing, name=f"SSv2/{split}", **kwargs)


def _audioset_rows(csv_path: Path) -> list[tuple[str, float, float, list[str]]]:
    rows = []
    with open(csv_path, newline="") as f:
        for r in csv.reader(f, skipinitialspace=True):
            if not r or r[0].startswith("#"):
                continue
            rows.append((r[0], float(r[1]), float(r[2]), r[3].split(",")))
    return rows


def AudioSet(root, segments: str = "balanced_train_segments.csv", *, media_dir=None,
             class_csv=None, video: bool = False, **kwargs) -> MediaDataset:
    """AudioSet segments (multi-label: ``label`` is a 527-way multi-hot float vector)."""
    root = Path(root)
    with open(Path(class_csv) if class_csv else root / "class_labels_indices.csv", newline="") as f:
        table = list(csv.DictReader(f))
    classes = [r["display_name"] for r in table]
    mid_to_index = {r["mid"]: int(r["index"]) for r in table}
    split = Path(segments).stem.replace("_segments", "")
    index = _media_index(Path(media_dir) if media_dir else _first_dir(root, split, "audio", "video"),
                         AUDIO_EXTENSIONS + VIDEO_EXTENSIONS)
    items, missing = [], []
    for ytid, s, e, mids in _audioset_rows(root / segments):
        stems = [ytid, f"Y{ytid}", f"{ytid}_{int(s)}", f"{ytid}_{int(s * 1000)}", f"{ytid}_{s:.3f}",
                 f"{ytid}_{int(s)}_{int(e)}", f"{ytid}_{int(s):06d}"]
        path = _resolve(index, stems, missing, ytid)
        if path is not None:
            target = torch.zeros(len(classes))
            target[[mid_to_index[m] for m in mids if m in mid_to_index]] = 1.0
            items.append((path, target))
    kwargs.setdefault("audio", True)
    kwargs.setdefault("audio_seconds", 10.0)
    return MediaDataset(items, classes, video=video, missing=missing, name=f"AudioSet/{split}", **kwargs)


def VGGSound(root, split: str = "train", *, csv_path=None, media_dir=None, **kwargs) -> MediaDataset:
    """VGGSound from ``vggsound.csv`` (``ytid,start,label,split``); classes are the sorted labels."""
    root = Path(root)
    with open(Path(csv_path) if csv_path else root / "vggsound.csv", newline="") as f:
        rows = [r for r in csv.reader(f) if len(r) >= 4]
    classes = sorted({r[2] for r in rows})
    index = _media_index(Path(media_dir) if media_dir else _first_dir(root, "video", "videos"),
                         VIDEO_EXTENSIONS + AUDIO_EXTENSIONS)
    items, missing = [], []
    for ytid, start, label, row_split, *_ in rows:
        if row_split.strip() != split:
            continue
        s = int(float(start))
        path = _resolve(index, [f"{ytid}_{s:06d}", f"{ytid}_{s}", ytid], missing, ytid)
        if path is not None:
            items.append((path, classes.index(label)))
    kwargs.setdefault("audio", True)
    return MediaDataset(items, classes, missing=missing, name=f"VGGSound/{split}", **kwargs)


def ESC50(root, split: str = "train", fold: int = 1, **kwargs) -> MediaDataset:
    """ESC-50, 5-fold cross-validation: ``test`` = fold ``fold``, ``train`` = the other four (5 s clips)."""
    root = Path(root)
    with open(root / "meta" / "esc50.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    names = {int(r["target"]): r["category"] for r in rows}
    classes = [names[k] for k in sorted(names)]
    items, missing = [], []
    for r in rows:
        in_fold = int(r["fold"]) == fold
        if in_fold != (split == "test"):
            continue
        path = root / "audio" / r["filename"]
        (items.append((path, int(r["target"]))) if path.exists() else missing.append(str(path)))
    kwargs.setdefault("audio_seconds", 5.0)
    return MediaDataset(items, classes, video=False, audio=True, missing=missing,
                        name=f"ESC50/{split}{fold}", **kwargs)
