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


def test_no_module_outside_architectures_names_an_architecture():
    """Families and architectures are named in architectures/ alone: the rest reads their
    rows (search space, width, default student, fine-tuning head, lab, example data)."""
    from kerasmodels.architectures import FAMILIES, REGISTRY

    names = set(REGISTRY) | set(FAMILIES)
    homonyms = {("keras3.py", "linear")}  # the activation called linear
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "architectures" in path.parts:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
                  for node in ast.walk(ast.parse(path.read_text()))
                  if isinstance(node, ast.Constant) and node.value in names
                  and (path.name, node.value) not in homonyms]
    assert found == [], found


def dummy_builder(spec, *, units=(12, 6)):
    """A test's architecture: Dense layers of ``units``."""
    from kerasmodels.architectures.common import check_units, model_input, output_head
    from kerasmodels.backend import keras

    inputs = model_input(spec)
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, size in enumerate(check_units("units", units)):
        x = keras.layers.Dense(size, activation="relu", name=f"body_{i}")(x)
    x = keras.layers.Dense(4, activation="relu", name="task")(x)
    return keras.Model(inputs, output_head(x, spec), name="dummy")


def dummy_small(spec, *, units=(4,)):
    """The test architecture's small variant."""
    return dummy_builder(spec, units=units)


def test_a_new_architecture_reaches_every_stage(tmp_path, monkeypatch):
    """Adding an architecture is its module's Family and register rows: train, search (its
    width and depth), distill (its small variant), finetune (its task layers replaced), the
    CLI and the dashboard all take it."""
    from kerasmodels.architectures import registry

    monkeypatch.setitem(registry.FAMILIES, "dummies", registry.Family(
        "dummies", example="digits", search_space={"width": [12, 24], "depth": [1, 2]},
        width_of="units", growth=0.5, task_layers=("task",)))
    for name, builder, small_of in (("dummy", dummy_builder, None),
                                    ("dummy_small", dummy_small, "dummy")):
        monkeypatch.setitem(registry.REGISTRY, name, registry.Architecture(
            name, "dummies", builder, builder.__doc__ or "", small_of, {"epochs": 1},
            lab=True))
    out = tmp_path / "runs"
    run = km.train("dummy", "digits", epochs=1, out_dir=out, verbose=0)
    assert run.manifest["arch"]["family"] == "dummies"

    found = km.search("dummy", "digits", trials=2, epochs=1, out_dir=out, progress=False)
    for trial in found.trials:
        assert trial["state"] == "complete", trial
        units = km.load_run(out / trial["run"]).manifest["arch"]["hparams"]["units"]
        assert units == [max(1, trial["params"]["width"] // 2 ** i)
                         for i in range(trial["params"]["depth"])], trial

    student = km.compress(run, "distill", epochs=1)
    assert student.manifest["compression"]["student_arch"] == "dummy_small"

    tuned = km.finetune(run, "digits", epochs=1, out_dir=out)
    assert tuned.manifest["finetune"]["backbone_layers"] == ["body_0", "body_1"]  # not task

    assert "dummy" in cli("archs").stdout
    result = cli("train", "--arch", "dummy", "--epochs", "1", "--out-dir", str(out), "--json")
    assert result.returncode == 0, result.stderr

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("KERASMODELS_RUNS_DIR", str(out))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("views/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "dummy" in at.selectbox[0].options
    at.switch_page("views/lab.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "dummy" in at.selectbox[0].options


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's lines without its docstring (the public API's Google-style docstrings,
    with their Args, Returns, Raises and Examples, are as long as they need to be)."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def test_no_function_is_longer_than_80_lines():
    """Long work is a few named stages: no function has more than 80 lines of code."""
    long = [f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({code_lines(node)} lines)"
            for path in sorted(PACKAGE.rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and code_lines(node) > 80]
    assert long == [], long


def test_the_cli_is_its_command_table_with_the_apis_defaults():
    """Every row of COMMANDS is a command; no argument has a default of the CLI's own (a
    literal), and the defaults it shows are the API's."""
    import argparse
    import inspect

    from kerasmodels import cli as command_line

    parser = command_line.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(commands.choices) == [c.name for c in command_line.COMMANDS]
    literal = [f"cli.py:{node.lineno} default={ast.unparse(keyword.value)}"
               for node in ast.walk(ast.parse((PACKAGE / "cli.py").read_text()))
               if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
               for keyword in node.keywords if keyword.arg == "default"
               and isinstance(keyword.value, ast.Constant)
               and keyword.value.value not in (None, False, 0)]
    assert literal == [], literal
    for name, function, arguments in (("train", km.train, ("arch", "dataset")),
                                      ("search", km.search, ("arch", "dataset")),
                                      ("pretrain", km.pretrain, ("arch", "corpus")),
                                      ("lr-find", km.find_learning_rate, ("arch", "dataset")),
                                      ("finetune", km.finetune, ("dataset",))):
        sub = commands.choices[name]
        for argument in arguments:
            assert sub.get_default(argument) == \
                inspect.signature(function).parameters[argument].default, (name, argument)
