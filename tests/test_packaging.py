"""Every library winback imports comes with `pip install winback`, or is one of the extras
whose absence winback reports itself. A module that only the test install brings (safetensors
once came with the `deep` extra alone) passes every test here and fails a user's `train` after
all its tuning."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from winback.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
# imported only behind a check that names the extra to install
OPTIONAL = {"torch": "deep", "pyspark": "spark", "psycopg": "postgres", "catboost": "catboost"}


def _name(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _base_closure() -> set[str]:
    """The distributions a plain install brings: the project's dependencies and theirs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = _name(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            todo.extend(Requirement(r) for r in requires(req.name) or [])
        except PackageNotFoundError:  # a platform's package this machine lacks
            pass
    return seen


def _imported_modules() -> dict[str, str]:
    """Top-level third-party modules imported anywhere in the package, with one file each."""
    found: dict[str, str] = {}
    for path in (ROOT / "src" / "winback").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {n.split(".")[0] for n in names}:
                if top != "winback" and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_library_is_a_dependency_or_a_reported_extra():
    base = _base_closure()
    dists = packages_distributions()
    missing = []
    for module, where in sorted(_imported_modules().items()):
        if module in OPTIONAL:
            continue
        names = {_name(d) for d in dists.get(module, [])}
        assert names, f"{module} (imported in {where}) is not installed at all"
        if not names & base:
            missing.append(f"{module} ({', '.join(sorted(names))}, imported in {where})")
    assert not missing, "not installed by `pip install winback`: " + "; ".join(missing)


def test_the_optional_extras_are_declared():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for module, extra in OPTIONAL.items():
        assert any(_name(Requirement(r).name).startswith(module) for r in extras[extra]), (module, extra)
    from winback.extras import EXTRAS  # what `winback --version` reports: the user-facing extras

    assert set(EXTRAS) == set(extras) - {"test", "bench"}


def test_without_pytorch_the_default_networks_are_left_out_with_a_note(monkeypatch):
    """A plain install (no `deep` extra) trains every other default candidate and says which
    networks it left out and how to get them; candidates listed by name are not second-guessed."""
    import winback.config as config
    from winback.datasets import dataset_config

    table = dataset_config("oneclick")
    # the test install has torch and CatBoost
    assert {"mlp", "catboost"} <= set(table.candidates) and table.candidate_notes == []
    monkeypatch.setattr(config, "torch_installed", lambda: False)
    assert table.candidates == ["logistic", "svc", "knn", "tree", "lightgbm", "catboost", "ensemble"]
    assert table.candidate_notes == [
        "mlp left out: it needs PyTorch, which is not installed (pip install 'winback[deep]')"]
    monkeypatch.setattr(config, "catboost_installed", lambda: False)
    assert table.candidates == ["logistic", "svc", "knn", "tree", "lightgbm", "ensemble"]
    assert table.candidate_notes[1] == ("catboost left out: it needs CatBoost, which is not installed "
                                        "(pip install 'winback[catboost]')")
    with pytest.raises(ConfigError, match=r"lists catboost, but CatBoost is not installed: pip install "
                                          r"'winback\[catboost\]'"):
        config.config_from_dict({"table": {"key": "id", "label": "y", "sources": [{"path": "t.csv"}]},
                                 "train": {"candidates": ["catboost", "logistic"]}})
    events = dataset_config("cdnow")
    assert events.candidates == ["logistic", "lightgbm", "bgnbd"] and events.candidate_notes == []
    events.problem.name = "next_event"
    assert events.candidates == ["most_frequent", "markov", "lightgbm"]
    assert events.candidate_notes[0].startswith("lstm, gru, cnn, cnn_bigru left out: they need PyTorch")
    table.train.candidates = ["mlp"]
    assert table.candidates == ["mlp"] and table.candidate_notes == []


WITHOUT_TORCH = """
import sys

class NoTorch:  # as if PyTorch were not installed: importing or looking for it fails
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None

sys.meta_path.insert(0, NoTorch())
from winback.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def _run_without_torch(*args: str, cwd: Path):
    import subprocess

    return subprocess.run([sys.executable, "-c", WITHOUT_TORCH, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_a_plain_install_trains_and_scores_a_customer_table_and_next_events(tmp_path):
    """As `pip install winback` runs them, without PyTorch: a customer table's default zoo and
    next_event's defaults train, say what they left out, write their bundles and score."""
    from winback.datasets import generate_rees46

    out = _run_without_torch("train", "--dataset", "oneclick", "--trials", "1", "--out", "oc", "--no-track",
                             cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "mlp left out: it needs PyTorch" in " ".join((out.stdout + out.stderr).split())
    manifest = json.loads((tmp_path / "oc" / "bundle" / "manifest.json").read_text())
    assert "mlp" not in manifest["candidates"] and "lightgbm" in manifest["candidates"]
    out = _run_without_torch("score", "--dataset", "oneclick", "--out", "oc", "-o", "scores.csv", "-q",
                             "--no-reasons", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len((tmp_path / "scores.csv").read_text().splitlines()) == 1_297 + 1

    generate_rees46(tmp_path / "events.parquet", rows=20_000, seed=3, days=40)
    (tmp_path / "winback.toml").write_text('[source]\npath = "events.parquet"\nlayout = "rees46"\n'
                                           '[problem]\nname = "next_event"\nhorizon_days = 10\n')
    out = _run_without_torch("train", "--no-track", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "lstm, gru, cnn, cnn_bigru left out: they need PyTorch" in " ".join((out.stdout + out.stderr).split())
    manifest = json.loads((tmp_path / "winback-out" / "bundle" / "manifest.json").read_text())
    assert set(manifest["candidates"]) == {"most_frequent", "markov", "lightgbm"}


def test_version_says_which_extras_are_installed(tmp_path):
    from winback import __version__

    out = _run_without_torch("--version", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == f"winback {__version__}" and lines[1] == "extras:"
    assert "  deep: not installed (pip install 'winback[deep]'), needed for the mlp candidate" in out.stdout
    assert any(line.startswith("  spark: installed (pyspark ") for line in lines)  # the test install has it
    assert {line.split(":")[0].strip() for line in lines[2:]} == {"deep", "catboost", "spark", "postgres", "bigquery"}
