"""Every winback name the README tells a reader to import or call exists: a renamed function
or an export left out fails here rather than in a reader's notebook."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

README = (Path(__file__).parent.parent / "README.md").read_text()
DOTTED = sorted(set(re.findall(r"\b(winback(?:\.[A-Za-z_]\w*)+)", README)))
IMPORTS = sorted({(m, n.strip()) for m, names in re.findall(r"^from (winback[\w.]*) import (.+)$", README, re.M)
                  for n in names.split(",")})


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_the_readme_names_some_api():
    assert "winback.datasets.generate_ga_sessions" in DOTTED and len(IMPORTS) >= 5


@pytest.mark.parametrize("dotted", [d for d in DOTTED if not d.endswith((".toml", ".py", ".json", ".html"))])
def test_dotted_names_resolve(dotted):
    _resolve(dotted)


@pytest.mark.parametrize("module, name", IMPORTS)
def test_imports_in_examples_resolve(module, name):
    assert hasattr(importlib.import_module(module), name), f"from {module} import {name}"
