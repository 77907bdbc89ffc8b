"""kerasmodels: train the classic architectures, compress, export and compare them.

TensorFlow loads on first use of a function that needs it, so ``import kerasmodels`` stays
light.

>>> import kerasmodels as km
>>> run = km.train("cnn", "digits", epochs=2, out_dir="/tmp/km-doc", verbose=0)  # doctest: +SKIP
>>> km.list_runs("/tmp/km-doc")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from kerasmodels._version import __version__

# public name -> module that defines it (imported on first access)
_LAZY = {
    "Dataset": "kerasmodels.data",
    "load_dataset": "kerasmodels.data",
    "dataset_names": "kerasmodels.data",
    "build_model": "kerasmodels.architectures",
    "get_architecture": "kerasmodels.architectures",
    "architecture_names": "kerasmodels.architectures",
    "small_variant": "kerasmodels.architectures",
    "train": "kerasmodels.training",
    "import_model": "kerasmodels.imports",
    "find_learning_rate": "kerasmodels.lab",
    "compare_optimizers": "kerasmodels.lab",
    "loss_surface": "kerasmodels.lab",
    "Run": "kerasmodels.runs",
    "load_run": "kerasmodels.runs",
    "list_runs": "kerasmodels.runs",
    "scan_runs": "kerasmodels.runs",
    "runs_table": "kerasmodels.runs",
    "compare_regularizers": "kerasmodels.lab",
    "image_input": "kerasmodels.inputs",
    "token_input": "kerasmodels.inputs",
    "sound_input": "kerasmodels.inputs",
    "load_variants": "kerasmodels.variants",
    "predict_variants": "kerasmodels.variants",
    "compress": "kerasmodels.compression",
    "sweep": "kerasmodels.compression.sweep",
    "sweep_targets": "kerasmodels.compression.sweep",
    "board_classes": "kerasmodels.boards",
    "export": "kerasmodels.exports",
    "export_formats": "kerasmodels.formats",
    "benchmark": "kerasmodels.benchmarks",
    "compare_family": "kerasmodels.benchmarks",
    "recipe_options": "kerasmodels.compression",
    "TRAINING": "kerasmodels.options",
    "COMPRESSION": "kerasmodels.options",
    "load_predictor": "kerasmodels.runtime",
    "EdgeModel": "kerasmodels.edge",
    "KerasModelsError": "kerasmodels.errors",
    "search": "kerasmodels.tuning",
    "pretrain": "kerasmodels.pretraining",
    "finetune": "kerasmodels.pretraining",
    "launch": "kerasmodels.distribute",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from kerasmodels.architectures import (  # noqa: F401
        architecture_names,
        build_model,
        get_architecture,
        small_variant,
    )
    from kerasmodels.benchmarks import benchmark, compare_family  # noqa: F401
    from kerasmodels.boards import board_classes  # noqa: F401
    from kerasmodels.compression import compress, recipe_options  # noqa: F401
    from kerasmodels.compression.sweep import sweep, sweep_targets  # noqa: F401
    from kerasmodels.data import Dataset, dataset_names, load_dataset  # noqa: F401
    from kerasmodels.distribute import launch  # noqa: F401
    from kerasmodels.edge import EdgeModel  # noqa: F401
    from kerasmodels.errors import KerasModelsError  # noqa: F401
    from kerasmodels.exports import export  # noqa: F401
    from kerasmodels.formats import export_formats  # noqa: F401
    from kerasmodels.imports import import_model  # noqa: F401
    from kerasmodels.inputs import image_input, sound_input, token_input  # noqa: F401
    from kerasmodels.lab import (  # noqa: F401
        compare_optimizers,
        compare_regularizers,
        find_learning_rate,
        loss_surface,
    )
    from kerasmodels.options import COMPRESSION, TRAINING  # noqa: F401
    from kerasmodels.pretraining import finetune, pretrain  # noqa: F401
    from kerasmodels.runs import Run, list_runs, load_run, runs_table, scan_runs  # noqa: F401
    from kerasmodels.runtime import load_predictor  # noqa: F401
    from kerasmodels.training import train  # noqa: F401
    from kerasmodels.tuning import search  # noqa: F401
    from kerasmodels.variants import load_variants, predict_variants  # noqa: F401


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kerasmodels' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
