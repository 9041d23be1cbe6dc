"""The package's layers point one way (docs/architecture.md): a subpackage imports only from its own layer and the
layers below it, and no two subpackages import each other, directly or round a cycle. Imports inside functions
count: a lazy import is still a dependency."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import gnnpt

ROOT = Path(gnnpt.__file__).parent
# bottom to top; a unit is a subpackage or a top-level module
LAYERS = [
    {"gnnpt", "gnnpt.config", "gnnpt.lazy", "gnnpt.runtime"},
    {"gnnpt.store"},
    {"gnnpt.featurization"},
    {"gnnpt.datasets"},
    {"gnnpt.nn"},
    {"gnnpt.models"},
    {"gnnpt.pretraining", "gnnpt.finetune"},
    {"gnnpt.predict", "gnnpt.screening"},
    {"gnnpt.adaptation"},
    {"gnnpt.api"},
    {"gnnpt.cli"},
]
LEVEL = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _unit(module: str) -> str:
    """The layer unit of a ``gnnpt`` module: ``gnnpt.models.store`` -> ``gnnpt.models``; ``gnnpt`` itself."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else "gnnpt"


def _imports() -> dict[str, set[tuple[str, str]]]:
    """{unit: {(imported unit, where)}} over every module of the package, function-level imports included."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).with_suffix("")
        module = ".".join(relative.parts[:-1] if relative.name == "__init__" else relative.parts)
        unit = _unit(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name == "gnnpt" or name.startswith("gnnpt."):
                    target = _unit(name)
                    if target != unit:
                        found.setdefault(unit, set()).add((target, f"{module}:{node.lineno}"))
    return found


def test_every_unit_has_a_layer() -> None:
    units = {_unit(".".join(p.relative_to(ROOT.parent).with_suffix("").parts)) for p in ROOT.rglob("*.py")}
    assert units - {"gnnpt.__init__"} <= set(LEVEL), f"add to LAYERS: {sorted(units - set(LEVEL))}"


def test_no_layer_imports_from_a_layer_above_it() -> None:
    upward = [f"{where} imports {target} ({LEVEL[unit]} < {LEVEL[target]})"
              for unit, targets in _imports().items() for target, where in targets
              if LEVEL[target] > LEVEL[unit]]  # fmt: skip
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycles_between_subpackages() -> None:
    graph = {unit: {target for target, _ in targets} for unit, targets in _imports().items()}
    cycles = []

    def visit(unit: str, path: list[str]) -> None:
        for target in graph.get(unit, ()):
            if target in path:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif len(path) < len(LEVEL):
                visit(target, [*path, target])

    for start in graph:
        visit(start, [start])
    assert not cycles, "\n".join(sorted(set(cycles)))


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch) -> None:
    """The rules above would catch ``gnnpt.nn`` importing ``gnnpt.models`` (what issue 15 removed)."""
    package = tmp_path / "gnnpt"
    (package / "nn").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "nn" / "__init__.py").write_text("def f():\n    from gnnpt.models.store import resolve\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", package)
    assert ("gnnpt.models", "gnnpt.nn:2") in _imports()["gnnpt.nn"]
