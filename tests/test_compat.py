"""Other packages' private names live in kerasmodels/_compat.py alone, each checked against the
installed versions, and a name that disappears is one line naming it and what to do."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kerasmodels import _compat
from kerasmodels._compat import CompatError, PrivateName

PACKAGE = Path(_compat.__file__).parent
INTERNAL_PARTS = {"src", "python", "internal", "_core"}


def own_private_attributes() -> set[str]:
    """The private attributes kerasmodels' own classes set (``self._x = ...``)."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and \
                    isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
    return names


def private_uses(path: Path, own: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and \
                not node.attr.startswith("__") and node.attr not in own and \
                not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            found.append(f"{where}: .{node.attr}")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr") \
                and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and \
                str(node.args[1].value).startswith("_") and node.args[1].value not in own and \
                not str(node.args[1].value).startswith("__"):
            found.append(f"{where}: getattr(..., {node.args[1].value!r})")
        modules = ([node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                   else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        for module in modules:
            parts = module.split(".")
            if parts[0] in ("kerasmodels", "__future__"):
                continue
            if INTERNAL_PARTS & set(parts[1:]) or any(p.startswith("_") for p in parts[1:]) or (
                    isinstance(node, ast.ImportFrom) and
                    any(a.name.startswith("_") for a in node.names)):
                found.append(f"{where}: import from {module}")
    return found


def test_no_module_but_compat_spells_another_packages_private_name():
    own = own_private_attributes()
    found = [f"{path.parent.name}/{use}" for path in sorted(PACKAGE.rglob("*.py"))
             if path.name != "_compat.py" for use in private_uses(path, own)]
    assert found == [], ("private names of other packages belong in kerasmodels/_compat.py "
                         "(a row and an accessor): " + "; ".join(found))


def test_the_scan_sees_each_kind_of_private_use(tmp_path):
    """The scan above is not vacuous: each way of reaching a private name is caught."""
    sample = tmp_path / "sample.py"
    sample.write_text("from tf_keras.src.saving import saving_lib\n"
                      "import tensorflow.python.ops\n"
                      "from keras import _private\n"
                      "x = model._flatten_layers()\n"
                      "y = getattr(tensor, '_keras_history', None)\n"
                      "z = self._mine\n")
    uses = sorted(private_uses(sample, own=set()), key=lambda u: int(u.split(":")[1]))
    assert [u.split(": ", 1)[1] for u in uses] == [
        "import from tf_keras.src.saving", "import from tensorflow.python.ops",
        "import from keras", "._flatten_layers", "getattr(..., '_keras_history')"]


def test_every_private_name_is_in_the_installed_versions():
    assert _compat.missing() == []
    for name in _compat.PRIVATE_NAMES:  # each row says what it is for and what it was checked on
        assert name.why and name.checked[0].isdigit() and ":" in name.path, name


def test_a_private_name_that_disappeared_is_one_line_with_the_fix():
    gone = PrivateName("gone", "tensorflow", "tensorflow.lite.python.convert_phase:NoSuchError",
                       "2.21.0", "telling a refusal from a bug")
    with pytest.raises(CompatError) as caught:
        _compat.lookup(gone)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("tensorflow 2.") and "has no tensorflow.lite.python.convert_" \
        "phase:NoSuchError" in message and "telling a refusal from a bug" in message
    assert message.endswith("install tensorflow==2.21.0, or update kerasmodels/_compat.py")
    gone_attribute = PrivateName("gone", "tf-keras", "tf_keras.optimizers:Adam._gone_rate",
                                 "2.21.0", "a test", instance=_compat._adam)
    with pytest.raises(CompatError, match="tf-keras 2.* has no tf_keras.optimizers:Adam._gone"):
        _compat.lookup(gone_attribute)
