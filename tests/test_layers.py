"""The layers, bottom up: connectors → integrations → sync → webhooks. A module never imports a
layer above its own, and never hides an import inside a function (AppConfig.ready aside, where
registering things is the point)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("connectors", "integrations", "sync", "webhooks")


def modules(app: str) -> list[Path]:
    return [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]


def imported(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
    return found


@pytest.mark.parametrize("app", LAYERS)
def test_no_module_imports_a_higher_layer(app):
    above = LAYERS[LAYERS.index(app) + 1 :]
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules(app)
        for name, _ in imported(ast.parse(path.read_text()))
        if name.split(".")[0] in above
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("app", LAYERS)
def test_no_import_hides_in_a_function(app):
    offenders = []
    for path in modules(app):
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) or func.name == "ready":
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name} in {func.name}()"
                for name, node in imported(func)
                if name.split(".")[0] in LAYERS
            ]
    assert not offenders, offenders
