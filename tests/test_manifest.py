"""The typed manifest: runs written by every earlier release open (in a new process, as a user
meets them), a newer schema is one clear line, and migrations run version by version."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import kerasmodels as km
from kerasmodels import manifest as schema
from kerasmodels.errors import RunError
from kerasmodels.layout import MANIFEST
from tests.conftest import ROOT

# the keys the first release (ffd2619, 2026-11-25) wrote; everything else came later
FIRST_RELEASE = {"schema_version", "id", "status", "created_at", "arch", "dataset", "training",
                 "metrics", "parent", "recipe", "versions"}
FIRST_DATASET = {"name", "options", "task", "input_shape", "dtype", "num_classes", "labels",
                 "vocab_size", "preprocessing", "sizes"}
FIRST_TRAINING = {"optimizer", "learning_rate", "schedule", "regularizer", "strategy", "epochs",
                  "epochs_run", "batch_size", "seed", "early_stopping", "distribution",
                  "seconds", "resumed_from_epoch"}


def test_a_run_written_by_the_first_release_opens_in_a_new_process(cnn_run, tmp_path):
    copy = tmp_path / cnn_run.id
    shutil.copytree(cnn_run.path, copy, ignore=shutil.ignore_patterns("exports"))
    written = json.loads((copy / MANIFEST).read_text())
    first = {k: v for k, v in written.items() if k in FIRST_RELEASE}
    first["dataset"] = {k: v for k, v in first["dataset"].items() if k in FIRST_DATASET}
    first["training"] = {k: v for k, v in first["training"].items() if k in FIRST_TRAINING}
    first["training"]["schedule"] = None  # the first release wrote no schedule record
    (copy / MANIFEST).write_text(json.dumps(first))
    code = ("import sys, kerasmodels as km\n"
            "run = km.load_run(sys.argv[1])\n"
            "x = run.dataset().test[0][:4]\n"
            "print(run.record.arch.name, run.record.dataset.input_shape, run.record.source,"
            " run.predict(x).shape)\n")
    done = subprocess.run([sys.executable, "-c", code, str(copy)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == f"cnn {cnn_run.input_shape} {{}} (4, 10)"


def test_every_reader_gets_the_record(cnn_run):
    record = cnn_run.record
    assert record.id == cnn_run.id and record.arch.family == "cnn"
    assert record.dataset.name == "digits" and record.dataset.num_classes == 10
    assert record.schema_version == schema.SCHEMA_VERSION and record.sections == {}
    assert km.load_run(cnn_run.path).record == record


def test_a_manifest_from_a_newer_kerasmodels_is_one_line(cnn_run, tmp_path):
    copy = tmp_path / cnn_run.id
    shutil.copytree(cnn_run.path, copy, ignore=shutil.ignore_patterns("exports"))
    written = json.loads((copy / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps({**written, "schema_version": 99}))
    with pytest.raises(RunError, match="was written by a newer kerasmodels \\(schema 99; this "
                                       "one reads up to 1\\): upgrade kerasmodels"):
        km.load_run(copy)


def test_migrations_run_version_by_version(monkeypatch):
    """How the next schema change lands: a row in MIGRATIONS per version."""
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 3)
    monkeypatch.setitem(schema.MIGRATIONS, 1, lambda m: {**m, "arch": {**m["arch"],
                                                                       "family": "renamed"}})
    monkeypatch.setitem(schema.MIGRATIONS, 2, lambda m: {**m, "recipe": m.get("recipe") or "x"})
    upgraded = schema.upgrade({"schema_version": 1, "id": "a", "arch": {"name": "mlp"}})
    assert upgraded == {"schema_version": 3, "id": "a", "arch": {"name": "mlp",
                                                                "family": "renamed"},
                        "recipe": "x"}
