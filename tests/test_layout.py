"""Every file name of a runs directory is spelled once, in kerasmodels/layout.py."""

from __future__ import annotations

import ast
from pathlib import Path

from kerasmodels import layout

PACKAGE = Path(layout.__file__).parent
# the same spelling, meaning something else
HOMONYMS = {
    ("formats.py", "saved_model"): "the format's name in the format table",
    ("sources.py", "saved_model"): "the kind of source an import records",
    ("saved_model.py", "saved_model"): "a Keras model's name",
    ("model_files.py", "config.json"): "a member of Keras' .keras zip",
}


def spelled(path: Path) -> list[tuple[int, str]]:
    """Where ``path`` spells a name of the layout (or a path starting with one)."""
    values = set(layout.NAMES.values())
    tree = ast.parse(path.read_text())
    keys = set()  # a dict's keys, a subscript, a part of an f-string: words, not file names
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys |= {id(k) for k in node.keys if k is not None}
        elif isinstance(node, ast.Subscript):
            keys.add(id(node.slice))
        elif isinstance(node, ast.JoinedStr):
            keys |= {id(v) for v in node.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in keys:
            head = node.value.split("/")[0]
            if (node.value in values or ("/" in node.value and head in values)) and \
                    (path.name, head) not in HOMONYMS:
                found.append((node.lineno, node.value))
    return found


def test_no_module_but_layout_spells_a_run_folder_name():
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {value!r}"
             for path in sorted(PACKAGE.rglob("*.py")) if path.name != "layout.py"
             for line, value in spelled(path)]
    assert found == [], "use the constant of kerasmodels/layout.py: " + "; ".join(found)


def test_the_names_are_what_runs_of_earlier_releases_hold(cnn_run):
    """The folder a run is written to has the layout's names (which never change)."""
    files = {p.name for p in cnn_run.path.iterdir()}
    assert {layout.MANIFEST, layout.MODEL, layout.HISTORY} <= files
    assert layout.NAMES["MANIFEST"] == "manifest.json" and layout.RUNS_DIR == "saved_models"


def test_the_run_directory_contract_is_written_once_in_the_runs_folder():
    """saved_models/README.md, in the default runs folder itself, names every file a run
    holds; the README and the docs site link to it or include it instead of keeping copies; a
    runs folder holding it lists no broken run."""
    from kerasmodels.runs import scan_runs

    root = PACKAGE.parent
    contract = (root / layout.RUNS_DIR / "README.md").read_text()
    for name in ("MANIFEST", "MODEL", "SAVED_MODEL", "HISTORY", "DATASET", "LOGS", "QAT_STATE",
                 "QAT_TEMPLATE", "EXPORTS", "EXPORTS_RECORD", "LABELS", "FEATURES", "SWEEP",
                 "BENCHMARK", "SEARCHES", "SEARCH_STORAGE"):
        assert layout.NAMES[name] in contract, name
    for copy in [root / "README.md", *(root / "docs").rglob("*.md")]:
        assert "  history.json " not in copy.read_text(), copy
    # the docs site shows it by including the file itself
    assert '--8<-- "saved_models/README.md' in (root / "docs" / "run-directory.md").read_text()
    assert "docs/run-directory.md" in (root / "README.md").read_text()
    _, broken = scan_runs(root / layout.RUNS_DIR)
    assert not any(path.name == "README.md" for path, _ in broken)
