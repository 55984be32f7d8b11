"""Where every manifest artifact stands: present, missing or stale.

An artifact is *present* when ``results/<paper>/<id>.*`` and its provenance ``<id>.json`` exist and
the provenance's cache key equals the current key of the notebook that wrote it (at the profile it
was written with); *stale* when the key differs (notebook, library or parameters changed since) or
cannot be checked (written by hand, outside the runner); *missing* otherwise.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..paths import manifest_path, results_root
from .registry import cache_key, discover


def load_manifest(path: Path | None = None) -> dict[str, list[dict]]:
    return yaml.safe_load(Path(path or manifest_path()).read_text())


def artifact_status(results_dir=None, notebooks_dir=None, manifest: Path | None = None) -> list[dict]:
    results = results_root(results_dir)
    notebooks = discover(Path(notebooks_dir) if notebooks_dir else None)
    memos: dict[str, dict] = {}
    rows = []
    for paper, items in load_manifest(manifest).items():
        for item in items:
            aid = item["id"]
            prov_path = results / paper / f"{aid}.json"
            files = [p for p in (results / paper).glob(f"{aid}.*") if p.suffix != ".json"]
            row = {"paper": paper, "id": aid, "kind": item.get("kind"), "what": item.get("what"),
                   "status": "missing", "profile": None, "reason": ""}
            if prov_path.exists() and files:
                prov = json.loads(prov_path.read_text())
                row["profile"] = prov.get("profile")
                nb = notebooks.get(prov.get("notebook") or "")
                if prov.get("cache_key") is None or nb is None:
                    row["status"], row["reason"] = "stale", "not written by the runner"
                else:
                    memo = memos.setdefault(prov["profile"], {})
                    current = cache_key(nb, notebooks, prov["profile"],
                                        {"profile": prov["profile"]}, _memo=memo)
                    if current == prov["cache_key"]:
                        row["status"] = "present"
                    else:
                        row["status"] = "stale"
                        row["reason"] = f"{nb.id} or the library changed since"
            rows.append(row)
    return rows
