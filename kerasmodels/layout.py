"""Every file and folder name of a runs directory, in one place.

A run is a folder of its own under the runs directory::

    saved_models/                      RUNS_DIR (the default; every entry point takes another)
        cnn-digits-20261204-101500/    a run (kerasmodels.runs.new_run_id)
            manifest.json              MANIFEST: what the run is (kerasmodels.runs)
            model.keras                MODEL: the trained model (or SAVED_MODEL/, imported)
            history.json               HISTORY: the metrics of each epoch
            dataset.npz                DATASET: a run trained on arrays keeps them
            logs/                      LOGS: TensorBoard summaries of each step
            qat.weights.npz            QAT_STATE and QAT_TEMPLATE: a QAT child's quantizers
            exports/                   EXPORTS: the files of kerasmodels.formats' rows
                exports.json           EXPORTS_RECORD: each file, its parity and its failures
                labels.json            LABELS: the class names a phone app reads
                features.tflite        FEATURES: an audio model's features (sound in)
            sweep.json                 SWEEP: a sweep's rows (on its root run)
            benchmark.json             BENCHMARK and BENCHMARK_CSV: the comparison's rows
        .partial/<key>/                PARTIAL: interrupted training, resumed from here
            config.json                WORK_CONFIG: the training call being resumed
            state/state.json           RESUME_STATE: epochs done, callbacks, best weights

Runs written by every earlier release use these names: they are never renamed.
``tests/test_layout.py`` fails when another module spells one of them.

Example:
    >>> from kerasmodels import layout
    >>> layout.MANIFEST
    'manifest.json'
"""

from __future__ import annotations

RUNS_DIR = "saved_models"
MANIFEST = "manifest.json"
MODEL = "model.keras"
SAVED_MODEL = "saved_model"  # an imported SavedModel's run holds it instead of model.keras
HISTORY = "history.json"
DATASET = "dataset.npz"
LOGS = "logs"
QAT_STATE = "qat.weights.npz"  # a QAT run's quantizer state beside its float model.keras
QAT_TEMPLATE = "qat.template.keras"  # and the float model its wrappers are rebuilt on
EXPORTS = "exports"
EXPORTS_RECORD = "exports.json"
LABELS = "labels.json"
FEATURES = "features.tflite"  # an audio model's front end: sound in, the model's input out
SWEEP = "sweep.json"
BENCHMARK = "benchmark.json"
BENCHMARK_CSV = "benchmark.csv"
PARTIAL = ".partial"
WORK_CONFIG = "config.json"
RESUME_DIR = "state"
RESUME_STATE = "state.json"
BEST_WEIGHTS = "best_weights.npz"
SEARCHES = ".searches"  # in a runs folder: each search's summary and the studies' database
SEARCH_STORAGE = "searches.db"  # the default storage of the searches (SQLite), in SEARCHES

NAMES = {name: value for name, value in dict(globals()).items()
         if name.isupper() and isinstance(value, str)}
"""Every name above: constant -> file or folder name."""

__all__ = ["BENCHMARK", "BENCHMARK_CSV", "BEST_WEIGHTS", "DATASET", "EXPORTS", "EXPORTS_RECORD", "FEATURES",
           "HISTORY", "LABELS", "LOGS", "MANIFEST", "MODEL", "NAMES", "PARTIAL", "QAT_STATE",
           "QAT_TEMPLATE", "RESUME_DIR", "RESUME_STATE", "RUNS_DIR", "SAVED_MODEL", "SEARCHES",
           "SEARCH_STORAGE", "SWEEP", "WORK_CONFIG"]
