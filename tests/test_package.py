import importlib
import subprocess
import sys

import kerasmodels


def test_import_is_light():
    code = ("import sys, kerasmodels, kerasmodels.errors, kerasmodels.report; "
            "print('tensorflow' in sys.modules, 'tf_keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_backend_selects_tf_keras():
    from kerasmodels.backend import keras, tf

    assert keras.__name__.startswith("tf_keras")
    assert keras.__version__.startswith("2.")
    assert tf.__version__.startswith("2.21")


def test_public_api_names_resolve():
    import pkgutil
    import types

    for module in pkgutil.walk_packages(kerasmodels.__path__, "kerasmodels."):
        if not module.name.endswith("__main__"):  # a submodule must never shadow a public name
            importlib.import_module(module.name)
    for name in kerasmodels.__all__:
        value = getattr(kerasmodels, name)
        assert value is not None and not isinstance(value, types.ModuleType), name


def test_unknown_attribute_is_an_attribute_error():
    try:
        kerasmodels.does_not_exist  # noqa: B018
    except AttributeError as exc:
        assert "does_not_exist" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
