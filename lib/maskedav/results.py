"""Writing the book's artifacts: tables and figures with a provenance record each.

A notebook makes one :class:`Recorder` after its parameters cell and passes every table and
figure that the manifest lists (or that the book shows) through it::

    rec = Recorder("mvd", profile=profile, results_dir=results_dir, parameters={...})
    rec.table(df, "table1", seeds=[0, 1, 2], caption="...")
    rec.figure(fig, "fig3", seeds=[0])

Files land at ``<results>/<paper>/<id>.{csv,md,png,svg}`` with ``<id>.json`` beside them. Each file
is written atomically (a temporary file in the same folder, then ``os.replace``): a reader or a killed
run never leaves a partial file. The results tree must belong to the Recorder's profile (its
``PROFILE`` marker, :mod:`maskedav.trees`): a Recorder refuses to mix two profiles in one tree.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import provenance
from .paths import results_root
from .trees import atomic_path, atomic_write_text, claim_tree


class Recorder:
    """Writes artifacts of one paper (``paper`` is the manifest key, e.g. ``"kdc-mae"``)."""

    def __init__(self, paper: str, *, profile: str, results_dir: str | None = None,
                 parameters: dict | None = None, device: str | None = None,
                 dataset: str = "synthav"):
        self.paper = paper
        self.profile = profile
        self.root = claim_tree(results_root(results_dir), profile)
        self.dir = self.root / paper
        self.dir.mkdir(parents=True, exist_ok=True)
        self.parameters = dict(parameters or {})
        self.parameters.setdefault("profile", profile)
        self.device = device
        self.dataset = dataset
        self.written: list[str] = []

    def _provenance(self, artifact_id: str, files: list[Path], seeds, extra: dict | None) -> Path:
        rel = [str(f.relative_to(self.root)) for f in files]
        extra = dict(extra or {})
        extra.setdefault("dataset", self.dataset)
        rec = provenance.record(paper=self.paper, artifact_id=artifact_id, files=rel,
                                profile=self.profile, parameters=self.parameters,
                                seeds=list(seeds) if seeds is not None else None,
                                device=self.device, extra=extra)
        path = self.dir / f"{artifact_id}.json"
        atomic_write_text(path, json.dumps(rec, indent=2, sort_keys=False, default=str) + "\n")
        self.written.append(artifact_id)
        return path

    def table(self, df, artifact_id: str, *, seeds=None, caption: str | None = None,
              extra: dict | None = None, float_format: str = "%.4g"):
        """Write ``df`` as ``<id>.csv`` and ``<id>.md`` (with the caption and profile line)."""
        csv_path = self.dir / f"{artifact_id}.csv"
        md_path = self.dir / f"{artifact_id}.md"
        with atomic_path(csv_path) as tmp:
            df.to_csv(tmp, index=False, float_format=float_format)
        head = f"**{caption}**\n\n" if caption else ""
        foot = (f"\n\n_Measured rows: profile `{self.profile}`, data `{self.dataset}`._\n")
        atomic_write_text(md_path, head + df.to_markdown(index=False, floatfmt=".4g") + foot)
        extra = dict(extra or {})
        if caption:
            extra["caption"] = caption
        self._provenance(artifact_id, [csv_path, md_path], seeds, extra)
        return df

    def figure(self, fig, artifact_id: str, *, seeds=None, caption: str | None = None,
               extra: dict | None = None, svg: bool = False, dpi: int = 110):
        """Write a matplotlib figure as ``<id>.png`` (and ``.svg`` when asked)."""
        files = [self.dir / f"{artifact_id}.png"]
        with atomic_path(files[0]) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
        if svg:
            files.append(self.dir / f"{artifact_id}.svg")
            with atomic_path(files[1]) as tmp:
                fig.savefig(tmp, format="svg", bbox_inches="tight")
        extra = dict(extra or {})
        if caption:
            extra["caption"] = caption
        self._provenance(artifact_id, files, seeds, extra)
        return fig
