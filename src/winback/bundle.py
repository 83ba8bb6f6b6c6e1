"""Versioned model bundles: a folder with manifest.json and plain model files, written atomically.

A bundle is written to a temporary sibling folder and renamed into place only when complete,
so a failed or interrupted run leaves the previous bundle (or nothing), never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from winback.errors import WinbackError

BUNDLE_FORMAT = 1
MANIFEST = "manifest.json"


def write_atomic_dir(target: Path, fill: Callable[[Path], None]) -> Path:
    """Create `target` by calling fill(tmp_dir) and renaming; replaces an old `target` whole."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        fill(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def write_atomic_file(target: Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp_path) then rename onto `target` (same folder, so the rename is atomic)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def save_bundle(target: Path, manifest: dict[str, Any], model, calibrator) -> Path:
    def fill(tmp: Path) -> None:
        entry = model.save(tmp)
        full = {**manifest, "format": BUNDLE_FORMAT, "model": {"name": model.name, **entry},
                "calibration": calibrator.to_dict() if calibrator else None}
        (tmp / MANIFEST).write_text(json.dumps(full, indent=2, default=str))

    return write_atomic_dir(target, fill)


def read_manifest(path: Path) -> dict[str, Any]:
    """A bundle's manifest, after checking that it is one and in a format this winback reads."""
    path = Path(path)
    mf = path / MANIFEST
    if not mf.exists():
        raise WinbackError(f"'{path}' is not a winback bundle (no {MANIFEST}). Train one with "
                           f"`winback train`.")
    manifest = json.loads(mf.read_text(encoding="utf-8"))
    if manifest.get("format") != BUNDLE_FORMAT:
        raise WinbackError(f"Bundle '{path}' has format {manifest.get('format')}; this winback "
                           f"reads format {BUNDLE_FORMAT}. Retrain it.")
    return manifest


def load_bundle(path: Path):
    """(manifest, model, calibrator or None); the model is rebuilt from plain files."""
    from winback.models import REGISTRY
    from winback.models.calibration import PlattCalibrator

    path = Path(path)
    manifest = read_manifest(path)
    entry = manifest["model"]
    if manifest.get("kind") == "next_event":
        from winback.nextevent.pipeline import load_next_event_bundle

        return manifest, load_next_event_bundle(path)[1], None
    if manifest.get("kind") == "customer_table":
        from winback.tabular.pipeline import load_table_model

        return manifest, load_table_model(path, entry), None
    if entry["name"] not in REGISTRY:
        raise WinbackError(f"Bundle '{path}' holds an unknown model '{entry['name']}'.")
    model = REGISTRY[entry["name"]].load(path, entry)
    cal = manifest.get("calibration")
    return manifest, model, (PlattCalibrator.from_dict(cal) if cal else None)
