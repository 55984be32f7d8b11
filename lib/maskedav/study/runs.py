"""Arms, runs and the study: turn *arms x seeds* into trained checkpoints and a tidy results frame.

An :class:`Arm` names a method and its config (every ablation switch is a config field), the inputs
it trains on and its budget. :meth:`Study.pretrain` trains every (arm, seed) on the executor's
workers; a run's checkpoint is cached under a content key (the config, the steps, the data and the
seed), so a re-run reuses what has not changed. :meth:`Study.evaluate` evaluates every run and the
random-init reference of each (arm, seed) by the same protocols and returns one row per (arm, seed,
task, protocol): the tidy frame that the gate (:mod:`maskedav.study.gate`) and the claims read.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from ..checkpoints import checkpoint_path, load_checkpoint, save_checkpoint
from ..provenance import git_state
from . import data as D
from .evaluate import EvalData, evaluate_encoder, shift_flip, supervised_ceiling
from .executor import default_workers, parallel_map

__all__ = ["Arm", "Run", "Study", "RANDOM_INIT", "SUPERVISED", "method_class", "session"]

RANDOM_INIT = "random init"
SUPERVISED = "supervised"


def method_class(method: str):
    """The model class of method ``method`` (``"videomae"``, ``"mae"``, ... any key of
    :func:`maskedav.methods.method_classes`)."""
    from ..methods import method_classes

    methods = method_classes()
    if method not in methods:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(methods)}")
    return methods[method][0]


@dataclass(frozen=True)
class Arm:
    """One arm of a study: ``method`` built from ``config`` (its ``seed`` is set per run), trained on
    ``keys`` of the pre-training data (``"clips"``: the video split; ``"frames"``: SynthAV's
    single-image set) for ``steps`` steps (default: the profile's), evaluated as representation
    ``rep`` (``None``: the method's only one)."""

    name: str
    method: str
    config: object
    keys: tuple = ("video",)
    data: str = "clips"
    steps: int | None = None
    rep: str | None = None
    label: str = ""
    eval_keys: tuple | None = None     # inputs of the downstream encoder (default: ``keys``)
    factory: Callable | None = None    # ``factory(config, seed) -> model`` (e.g. a student that loads
    #                                    its teachers); a picklable module-level function or partial
    key_extra: tuple = ()              # what else the run depends on (e.g. the teachers' checkpoints)
    seeds: tuple | None = None         # train only these seeds (default: the seeds given to ``pretrain``)
    init_id: str | None = None         # arms with the same ``init_id`` build the same network for a seed
    #                                    (before training) from the same inputs: their random-init
    #                                    evaluation is computed once per seed and shared
    train_overrides: tuple = ()        # ``(("warmup_steps", 38), ...)``: TrainConfig fields of this arm
    unpaired: tuple = ()               # ``(("image", "unrelated"), ...)``: batch key <- a SynthAV image set
    #                                    unrelated to the clips, drawn per batch independently of them

    def seed_list(self, seeds: Sequence[int]) -> list[int]:
        """The seeds this arm trains: its own :attr:`seeds` when set, else ``seeds``."""
        return list(seeds) if self.seeds is None else list(self.seeds)

    def build(self, seed: int):
        torch.manual_seed(seed)
        config = self.config.replace(seed=seed)
        if self.factory is not None:
            return self.factory(config, seed)
        return method_class(self.method)(config)

    @property
    def input_keys(self) -> tuple:
        """What evaluation feeds the encoder."""
        if self.eval_keys is not None:
            return tuple(self.eval_keys)
        return ("video",) if self.data == "frames" else tuple(self.keys)


@dataclass
class Run:
    arm: Arm
    seed: int
    checkpoint: str
    history: list = field(default_factory=list)
    eval_history: list = field(default_factory=list)
    train_s: float = 0.0
    cached: bool = False
    key: str = ""
    cpu_s: float | None = None

    @property
    def cost_s(self) -> float:
        """Seconds of compute the run's training took: on the CPU the worker's process time
        (:attr:`cpu_s`; its wall time :attr:`train_s` also counts the turns of other workers when the
        executor runs more workers than cores, :func:`~maskedav.study.executor.cpu_workers`), on a GPU
        the wall time. A run cached before the process time was recorded gives its wall time, which counts
        the other workers' turns when it was trained on more workers than cores."""
        return self.train_s if self.cpu_s is None else self.cpu_s

    def model(self, map_location="cpu"):
        """The trained model (eval mode); refuses a checkpoint that another run has since replaced."""
        payload = torch.load(self.checkpoint, map_location=map_location, weights_only=False)
        found = payload.get("extra", {}).get("key")
        if self.key and found != self.key:
            raise RuntimeError(f"{self.checkpoint} now holds another run (key {found}, expected {self.key}): "
                               "pre-train this arm again")
        m = self.arm.build(self.seed)
        m.load_state_dict(payload["state_dict"])
        return m.eval()


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _heldout_eval_fn(batches: list[dict], keys, mask_seed: int = 12345) -> Callable:
    """``eval_fn(model)``: mean of the loss and every logged term on held-out ``batches`` under fixed
    masks (the method's generator re-seeded with ``mask_seed`` for the pass, restored after)."""
    def eval_fn(model) -> dict:
        device = next(model.parameters()).device
        state = model.generator.get_state()
        model.generator.manual_seed(mask_seed)
        totals, count = {}, 0
        try:
            for b in batches:
                b = {k: v.to(device) for k, v in b.items()}
                with torch.no_grad():
                    loss, logs = model(b)
                n = len(b[keys[0]])
                for k, v in {"heldout_loss": loss, **logs}.items():
                    totals[k] = totals.get(k, 0.0) + float(v) * n
                count += n
        finally:
            model.generator.set_state(state)
        return {k: v / count for k, v in totals.items()}
    return eval_fn


class Study:
    """The profile's data, executor, checkpoint cache and evaluation suite for one chapter.

    ``profile`` is resolved once by the caller (a :class:`~maskedav.profiles.Profile`); ``chapter``
    names the checkpoint folder (``<cache>/checkpoints/<profile>/<chapter>/...``). ``data``: SynthAV
    overrides of this study's data (e.g. ``{"downsample": 4}`` for degraded video); its checkpoints are
    named with them (``<arm>-downsample4``), so that studies of one chapter on other data never share one.
    """

    def __init__(self, profile, chapter: str, *, device=None, workers: int | None = None,
                 data: dict | None = None):
        self.P = profile
        self.chapter = chapter
        self.device = torch.device(device or profile.resolve_device())
        self.data_overrides = dict(sorted((data or {}).items()))
        self.synthav = D.synthav_config(profile, **self.data_overrides)
        self.workers = workers
        self.audio_frames = D.fbank_frames(self.synthav.num_samples, self.synthav.sample_rate,
                                           profile.model.audio_patch)

    # ------------------------------------------------------------------------------------ data
    def split(self, split: str, keys=("video",)) -> dict:
        """A split with the inputs under ``keys`` (``"video"``, ``"audio"``, ``"source_mask"``, ``"fbank"``
        (Kaldi, the profile's mel bins), ``"mfcc"`` (TalkNet's 13 coefficients)) and its labels."""
        s = D.load_split(self.synthav, split)
        out = {"labels": s["labels"]}
        for k in keys:
            if k == "fbank":
                out[k] = D.split_fbank(self.synthav, split, self.P.data.num_mel_bins)
            elif k == "mfcc":
                out[k] = D.split_mfcc(self.synthav, split)
            else:
                out[k] = s[k]
        return out

    def pretrain_data(self, arm: Arm) -> dict:
        if arm.data == "frames":
            return D.load_frames(self.synthav, 0, self.P.data.n_pretrain)
        return {**self.split("pretrain", arm.keys), **self._unpaired(arm, self.P.data.n_pretrain)}

    def heldout_data(self, arm: Arm, n: int = 256) -> dict:
        """The first ``n`` held-out (validation) inputs of the arm's keys; an unpaired set's first
        ``n`` items are paired with them in order (fixed, so the held-out losses are comparable)."""
        if arm.data == "frames":
            d = D.load_frames(self.synthav, self.P.data.n_pretrain, min(n, self.P.data.n_val))
        else:
            d = {**self.split("val", arm.keys), **self._unpaired(arm, n)}
        n = min(n, len(d[arm.keys[0]]))
        return {k: d[k][:n] for k in self.batch_keys(arm)}

    def _unpaired(self, arm: Arm, n: int) -> dict:
        """``{batch key: images}`` of the arm's unpaired image sets (at most ``n`` images each)."""
        return {key: D.load_images(self.synthav, kind, 0, min(n, self.synthav.n_images))["image"]
                for key, kind in arm.unpaired}

    @staticmethod
    def batch_keys(arm: Arm) -> list[str]:
        """The keys of a pre-training batch: the clips' inputs, then the unpaired sets' keys."""
        return list(arm.keys) + [key for key, _ in arm.unpaired]

    def eval_data(self, keys) -> EvalData:
        from ..data.synthav import TASKS, num_classes

        E = self.P.eval
        return EvalData(train=self.split("train", keys), val=self.split("val", keys),
                        test=self.split("test", keys), keys=tuple(keys),
                        num_classes={t: num_classes(t, self.synthav) for t in TASKS},
                        probe_train=E.probe_train, finetune_train=E.finetune_train)

    def chance(self, task: str) -> float:
        return D.chance(self.split("test")["labels"][task])

    def fbank_stats(self) -> tuple[float, float]:
        return D.fbank_stats(D.split_fbank(self.synthav, "pretrain", self.P.data.num_mel_bins))

    # ------------------------------------------------------------------------------- pre-train
    def run_key(self, arm: Arm, seed: int) -> str:
        steps = arm.steps if arm.steps is not None else self.P.train.steps
        parts = [arm.method, arm.config.replace(seed=seed).to_dict(), arm.keys, arm.data, steps,
                 self.synthav.to_dict(), self.P.train.__dict__, seed, arm.key_extra]
        if arm.train_overrides:
            parts.append(sorted(arm.train_overrides))
        if arm.unpaired:
            parts.append(["unpaired", list(arm.unpaired)])
        return _digest(parts)

    def checkpoint_name(self, arm: Arm) -> str:
        tag = "".join(f"-{k}{v}" for k, v in self.data_overrides.items())
        return f"{self.chapter}/{arm.name}{tag}"

    def pretrain(self, arms: Sequence[Arm], seeds: Sequence[int], *, force: bool = False) -> list[Run]:
        """Train every (arm, seed) (or reuse its cached checkpoint when the content key matches; cached
        runs are read here, only the others go to the workers). An arm with its own :attr:`Arm.seeds`
        trains those."""
        pairs = [(arm, s) for arm in arms for s in arm.seed_list(seeds)]
        out = [None if force else _cached_run(self, arm, s) for arm, s in pairs]
        todo = [i for i, r in enumerate(out) if r is None]
        if todo:
            for arm in {pairs[i][0].name: pairs[i][0] for i in todo}.values():
                self.pretrain_data(arm), self.heldout_data(arm)   # loaded here: workers share it
            jobs = [dict(study=self._spec(), arm=pairs[i][0], seed=pairs[i][1], force=force) for i in todo]
            steps = max((pairs[i][0].steps or self.P.train.steps) for i in todo)
            workers = self.workers or default_workers(self.device, len(jobs), work=steps * 0.05)
            for i, run in zip(todo, parallel_map(_pretrain_job, jobs, workers)):
                out[i] = run
        return out

    def input_store(self, split: str) -> Callable:
        """``store(name, compute) -> tensor``: per-clip inputs derived from split ``split`` by a fixed
        function named ``name`` (e.g. a frozen teacher's features, named by the teacher's weights),
        computed once and cached on disk (``<cache>/study/<profile>/inputs/``), so that runs which need
        the same derived inputs share them."""
        from ..paths import cache_root

        folder = cache_root() / "study" / self.P.name / "inputs"
        ident = self.synthav.to_dict()

        def store(name: str, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
            path = folder / f"{split}-{_digest([ident, split, name])}.pt"
            if path.exists():
                return torch.load(path, weights_only=True)
            value = compute()
            from ..train.engine import _atomic_save

            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_save(value, path)
            return value
        return store

    def _spec(self) -> dict:
        return dict(profile=self.P, chapter=self.chapter, device=str(self.device), data=self.data_overrides)

    # -------------------------------------------------------------------------------- evaluate
    def evaluate(self, runs: Sequence[Run], tasks: Sequence[str], protocols: Sequence[str] = ("probe",), *,
                 random_init: bool = True, readout: str | None = None, finetune_tasks: Sequence[str] = ()) -> "pd.DataFrame":  # noqa: F821
        """The tidy frame: one row per (arm, seed, init, task, protocol) with ``accuracy`` (percent),
        ``n_test`` and ``correct`` (per-clip booleans on the test split). ``init`` is ``"pretrained"``
        or :data:`RANDOM_INIT` (the same network before pre-training). Fine-tuning runs only for
        ``finetune_tasks``."""
        import pandas as pd

        spec = dict(tasks=tuple(tasks), protocols=tuple(protocols), readout=readout or self.P.eval.readout,
                    finetune_tasks=tuple(finetune_tasks))
        wanted = [(run, init) for run in runs
                  for init in (("pretrained", RANDOM_INIT) if random_init else ("pretrained",))]
        paths = [_eval_path(self, run, init, **spec) for run, init in wanted]
        parts: dict = {}                       # cache path -> rows (shared random inits: one path)
        for path in paths:
            if path not in parts and path.exists():
                parts[path] = torch.load(path, weights_only=False)
        todo = {}
        for (run, init), path in zip(wanted, paths):
            if path not in parts and path not in todo:
                todo[path] = dict(study=self._spec(), run=run, init=init, **spec)
        if todo:
            for run in {todo[p]["run"].arm.input_keys: todo[p]["run"] for p in todo}.values():
                self.eval_data(run.arm.input_keys)
            E = self.P.eval
            work = E.probe_epochs * E.probe_train / 5000 + (E.finetune_steps * 0.05 if finetune_tasks else 0)
            workers = self.workers or default_workers(self.device, len(todo), work=work)
            for path, rows in zip(todo, parallel_map(_evaluate_job, list(todo.values()), workers)):
                parts[path] = rows
        rows = []
        for (run, init), path in zip(wanted, paths):   # shared rows carry each arm's own name
            rows += [dict(r, arm=run.arm.name, label=run.arm.label or run.arm.name, seed=run.seed, init=init)
                     for r in parts[path]]
        return pd.DataFrame(rows)

    def ceiling(self, arm: Arm, tasks: Sequence[str], *, seed: int = 0) -> "pd.DataFrame":  # noqa: F821
        """Supervised ceilings of ``tasks`` with ``arm``'s encoder (cached by content key)."""
        return self.ceilings([(arm, t) for t in tasks], seed=seed)

    def ceilings(self, pairs: Sequence[tuple], *, seed: int = 0) -> "pd.DataFrame":  # noqa: F821
        """Supervised ceilings of ``(arm, task)`` pairs, the missing ones trained together on the
        executor's workers (cached by content key)."""
        import pandas as pd

        rows = [_cached_ceiling(self, arm, t, seed) for arm, t in pairs]
        todo = [i for i, r in enumerate(rows) if r is None]
        if todo:
            jobs = [dict(study=self._spec(), arm=pairs[i][0], task=pairs[i][1], seed=seed) for i in todo]
            workers = self.workers or default_workers(self.device, len(jobs), work=self.P.eval.ceiling_steps * 0.1)
            for i, row in zip(todo, parallel_map(_ceiling_job, jobs, workers)):
                rows[i] = row
        return pd.DataFrame(rows)


def _study(spec: dict) -> Study:
    return Study(spec["profile"], spec["chapter"], device=spec["device"], workers=1, data=spec.get("data"))


def _cached_run(S: Study, arm: Arm, seed: int) -> Run | None:
    """The cached run of (arm, seed) when its checkpoint holds the arm's content key, else ``None``."""
    key = S.run_key(arm, seed)
    name, profile = S.checkpoint_name(arm), S.P.name
    path = checkpoint_path(name, profile=profile, seed=seed)
    if not path.exists():
        return None
    extra = load_checkpoint(name, profile=profile, seed=seed).get("extra", {})
    if extra.get("key") != key:
        return None
    return Run(arm, seed, str(path), extra.get("history", []), extra.get("eval_history", []),
               extra.get("train_s", 0.0), cached=True, key=key, cpu_s=extra.get("cpu_s"))


def _pretrain_job(study: dict, arm: Arm, seed: int, force: bool = False) -> Run:
    """Train one (arm, seed). A method may derive extra per-clip inputs from the pre-training data
    once, before training (``method.cached_inputs(data, device=, store=)`` -> ``{key: (N, ...)}``,
    e.g. MVD's frozen teachers' targets); they join every batch, and their time counts in ``train_s``."""
    from ..train import TrainConfig, train

    S = _study(study)
    key = S.run_key(arm, seed)
    name, profile = S.checkpoint_name(arm), S.P.name
    path = checkpoint_path(name, profile=profile, seed=seed)
    if not force:
        cached = _cached_run(S, arm, seed)
        if cached is not None:
            return cached
    method = arm.build(seed).to(S.device)
    keys = S.batch_keys(arm)
    data = S.pretrain_data(arm)
    held = D.chunks(S.heldout_data(arm), keys, S.P.train.batch_size)
    cfg = TrainConfig.from_profile(S.P.train, seed=seed, progress=False,
                                   **({} if arm.steps is None else {"steps": arm.steps}),
                                   **dict(arm.train_overrides))
    t, c = time.perf_counter(), time.process_time()
    if hasattr(method, "cached_inputs") and arm.data == "clips":
        extra = method.cached_inputs(data, device=S.device, store=S.input_store("pretrain"))
        if extra:
            data, keys = {**data, **extra}, keys + [k for k in extra if k not in keys]
    res = train(method, D.batch_fn(data, S.P.train.batch_size, keys, seed,
                                   unpaired=[key for key, _ in arm.unpaired]), cfg, device=S.device,
                eval_fn=_heldout_eval_fn(held, keys), desc=f"{arm.name} s{seed}")
    train_s = time.perf_counter() - t
    cpu_s = time.process_time() - c if torch.device(S.device).type == "cpu" else None
    history = [{k: v for k, v in r.items()} for r in res.history]
    save_checkpoint(name, method, profile=profile, seed=seed, config=arm.config.replace(seed=seed),
                    extra=dict(key=key, steps=res.steps, history=history, eval_history=res.eval_history,
                               train_s=train_s, cpu_s=cpu_s, git=git_state()))
    return Run(arm, seed, str(path), history, res.eval_history, train_s, key=key, cpu_s=cpu_s)


def _augment(profile) -> dict:
    """Per-task augmentation of the fine-tuning protocol: shift and flip for the shape task only
    (a flip would swap ``motion``'s left/right labels)."""
    return {"appearance": shift_flip(3, flip=True)}


def _eval_path(S: Study, run: Run, init: str, tasks, protocols, readout, finetune_tasks) -> "Path":  # noqa: F821
    """Cache file of the rows of one (run, init); a shared random init (:attr:`Arm.init_id`) has one
    file per (init_id, seed)."""
    from ..paths import cache_root

    E = S.P.eval
    common = [init, tasks, protocols, readout, finetune_tasks, E.__dict__, S.synthav.to_dict()]
    folder = cache_root() / "study" / S.P.name / S.chapter
    if init == RANDOM_INIT and run.arm.init_id:
        key = _digest([run.arm.init_id, run.seed, run.arm.rep, run.arm.input_keys, *common, "eval-init-v1"])
        return folder / f"eval-init-{run.arm.init_id}-{key}.pt"
    key = _digest([S.run_key(run.arm, run.seed), *common, "eval-v1"])
    return folder / f"eval-{run.arm.name}-{key}.pt"


def _evaluate_job(study: dict, run: Run, init: str, tasks, protocols, readout, finetune_tasks) -> list[dict]:
    """Rows of one (run, init), cached by content key under ``<cache>/study/``."""
    S = _study(study)
    path = _eval_path(S, run, init, tasks, protocols, readout, finetune_tasks)
    if path.exists():
        return torch.load(path, weights_only=False)
    rows = _evaluate(S, run, init, tasks, protocols, readout, finetune_tasks)
    from ..train.engine import _atomic_save

    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_save(rows, path)
    return rows


def _evaluate(S: Study, run: Run, init: str, tasks, protocols, readout, finetune_tasks) -> list[dict]:
    E = S.P.eval
    method = run.arm.build(run.seed) if init == RANDOM_INIT else run.model()
    data = S.eval_data(run.arm.input_keys)
    rows = []
    frozen = [p for p in protocols if p != "finetune"]
    if frozen:
        rows += evaluate_encoder(method, data, tasks, frozen, rep=run.arm.rep, readout=readout,
                                 probe_epochs=E.probe_epochs, seed=run.seed, device=S.device)
    ft = [t for t in tasks if t in finetune_tasks] if "finetune" in protocols else []
    if ft:
        rows += evaluate_encoder(method, data, ft, ("finetune",), rep=run.arm.rep, readout=readout,
                                 finetune_steps=E.finetune_steps, batch_size=S.P.train.batch_size,
                                 seed=run.seed, device=S.device, augment=_augment(S.P))
    for r in rows:
        r.update(arm=run.arm.name, label=run.arm.label or run.arm.name, seed=run.seed, init=init)
    return rows


#: Version of the ceilings' training code, part of their cache key: bumped whenever what a ceiling computes
#: changes. v2: the ceilings cached under v1 had been trained by an uncommitted state of the library and
#: differed from a fresh run's (VideoMAE appearance 93.68 vs 94.10 %, motion 86.12 vs 85.33 %).
CEILING_VERSION = "ceiling-v2"


def _ceiling_key(S: Study, arm: Arm, task: str, seed: int) -> str:
    return _digest([S.run_key(arm, seed), task, S.P.eval.__dict__, CEILING_VERSION])


def _cached_ceiling(S: Study, arm: Arm, task: str, seed: int) -> dict | None:
    cache = checkpoint_path(f"{S.chapter}/ceiling-{arm.name}-{task}", profile=S.P.name, seed=seed)
    if cache.exists():
        payload = torch.load(cache, weights_only=False)["state_dict"]
        if payload.get("key") == _ceiling_key(S, arm, task, seed):
            return payload["row"]
    return None


def _ceiling_job(study: dict, arm: Arm, task: str, seed: int) -> dict:
    S = _study(study)
    E = S.P.eval
    keys = arm.input_keys
    key = _ceiling_key(S, arm, task, seed)
    cached = _cached_ceiling(S, arm, task, seed)
    if cached is not None:
        return cached
    t, c = time.perf_counter(), time.process_time()
    row = supervised_ceiling(arm.build(seed), S.eval_data(keys), task, rep=arm.rep, readout=E.readout,
                             steps=E.ceiling_steps, batch_size=E.ceiling_batch, seed=seed, device=S.device,
                             augment=_augment(S.P).get(task))
    row.update(arm=SUPERVISED, label=f"supervised ({arm.label or arm.name} encoder)", seed=seed,
               init=SUPERVISED, train_s=time.perf_counter() - t, cpu_s=time.process_time() - c)
    save_checkpoint(f"{S.chapter}/ceiling-{arm.name}-{task}", {"key": key, "row": row, "git": git_state()},
                    profile=S.P.name, seed=seed)
    return row


def session(paper: str, chapter: str, profile: str, results_dir=None):
    """What every page of a chapter starts with: ``(P, study, rec)`` — the profile resolved once, the
    chapter's :class:`Study` and a :class:`~maskedav.results.Recorder` for results folder ``paper``;
    torch in this process gets one CPU thread (the models are small: a second thread only contends
    with the executor's workers)."""
    from ..profiles import get_profile
    from ..results import Recorder
    from .executor import cpu_threads

    P = get_profile(profile)
    study = Study(P, chapter)
    cpu_threads(study.device)
    return P, study, Recorder(paper, profile=profile, results_dir=results_dir, parameters=dict(profile=profile))
