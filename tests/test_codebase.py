"""The shape of the code a newcomer extends: modules import each other without cycles (imports
inside functions included), and adding a recipe is a row the whole product sees."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import kerasmodels as km
from kerasmodels.compression import recipes
from tests.conftest import ROOT, cli

PACKAGE = ROOT / "kerasmodels"
APP = PACKAGE / "dashboard" / "app.py"


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def import_graph() -> dict[str, set[str]]:
    """module -> the kerasmodels modules it imports, anywhere in its code."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                           else node.module for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name in modules]
            graph[name] |= {t for t in targets if t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_two_modules_import_each_other():
    graph = import_graph()
    assert "kerasmodels.training" in graph["kerasmodels.compression.common"] or \
        "kerasmodels.modeling" in graph["kerasmodels.compression.common"]  # the scan sees them
    found = cycles(graph)
    assert found == [], "import cycles (move what both need into a lower module: modeling.py, " \
        "measure.py, layout.py): " + "; ".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def compress_dummy(model, data, *, epochs: int = 1, learning_rate: float = 1e-3,
                   kept: str = ""):
    """The test's extra step: the model as it is, with a report saying what it was told."""
    from kerasmodels.modeling import clone

    return clone(model), {"told": kept or "nothing"}, {}


def test_a_new_recipe_reaches_every_consumer(cnn_run, tmp_path, monkeypatch):
    """Adding a recipe is one Step row, its function and one Recipe row: km.compress (chained
    after prune, it is told what prune made), recipe_options, the CLI's choices, the
    dashboard's Compress page and the sweep's defaults all have it."""
    import shutil

    step = recipes.Step("dummy", "tests.test_codebase:compress_dummy", keeps=("prune",),
                        keep_option="kept", note="a test's step")
    monkeypatch.setattr(recipes, "STEPS", [*recipes.STEPS, step])
    monkeypatch.setattr(recipes, "RECIPES", [
        *(dataclasses.replace(r, sweep=()) for r in recipes.RECIPES),
        recipes.Recipe("dummy", ("dummy",), sweep=({"epochs": 1},)),
        recipes.Recipe("prune+dummy", ("prune", "dummy"))])
    copy = tmp_path / "runs" / cnn_run.id
    shutil.copytree(cnn_run.path, copy, ignore=shutil.ignore_patterns("exports", "sweep.json",
                                                                      "benchmark.*"))
    assert set(km.recipe_options("dummy")) == {"epochs", "learning_rate"}
    child = km.compress(copy, "prune+dummy", epochs=1)
    assert child.manifest["compression"]["told"] == "prune"

    assert "dummy" in " ".join(cli("compress", "--help").stdout.split())
    result = cli("compress", str(copy), "--recipe", "dummy", "--json")
    assert result.returncode == 0, result.stderr

    swept = km.sweep(copy, calls=5, formats=["tflite-float32"], progress=False)
    assert {r["recipe"] for r in swept["rows"]} == {"none", "dummy"}

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("KERASMODELS_RUNS_DIR", str(copy.parent))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("views/compress.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "dummy" in at.multiselect[0].options and "prune+dummy" in at.multiselect[0].options
