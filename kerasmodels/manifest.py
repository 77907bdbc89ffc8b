"""A run's manifest, typed: what ``manifest.json`` holds, checked when a run is opened, and
brought up to the current schema from every version written so far.

``manifest.json`` stays plain JSON (``Run.manifest`` is that dict, for tools and people);
``Run.record`` is a ``Manifest``, which code reads instead of indexing the dict. Every
manifest ever written carries ``schema_version``; ``MIGRATIONS`` takes a manifest of one
version to the next, so runs made by earlier releases still open. Version 1 is the only one
written so far: within it, sections were added over time (``source``, ``dataset.stored`` and
``sha256``, ``training.steps_per_epoch``), and a manifest without them reads as one that has
them empty.

Example:
    >>> from kerasmodels.manifest import Manifest
    >>> record = Manifest.from_json({"schema_version": 1, "id": "mlp-digits-1",
    ...     "arch": {"name": "mlp"}, "dataset": {"name": "digits", "input_shape": [8, 8, 1]}})
    >>> record.arch.name, record.dataset.input_shape, record.recipe
    ('mlp', (8, 8, 1), None)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kerasmodels.errors import RunError
from kerasmodels.layout import MANIFEST

SCHEMA_VERSION = 1
# schema version -> the function that takes a manifest of that version to the next one
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
KNOWN = ("schema_version", "id", "status", "created_at", "arch", "dataset", "training",
         "metrics", "parent", "recipe", "versions")


@dataclass(frozen=True)
class ArchRecord:
    """The model: its architecture's name (a registry name, or your model's), family,
    hyperparameters and parameter count."""

    name: str
    family: str = "custom"
    hparams: dict[str, Any] = field(default_factory=dict)
    params: int | None = None


@dataclass(frozen=True)
class DatasetRecord:
    """The data the run was made on: enough to load it again and to check it is the same."""

    name: str
    input_shape: tuple[int, ...]
    task: str | None = None
    num_classes: int | None = None
    labels: list[str] | None = None
    dtype: str = "float32"
    vocab_size: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    stored: str | None = None  # arrays kept in the run's folder (layout.DATASET)
    sha256: str | None = None  # the content's digest, for data read from files


@dataclass(frozen=True)
class Manifest:
    """What a run is: its id, model, data, training, metrics and lineage.

    Attributes:
        sections: what a recipe records besides (``compression``, ``finetune``,
            ``pretraining``, ``source``), by name.
    """

    id: str
    arch: ArchRecord
    dataset: DatasetRecord
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    recipe: str | None = None
    status: str = "complete"
    created_at: str = ""
    versions: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_json(cls, data: Any, where: str = MANIFEST) -> Manifest:
        """The manifest ``data`` (as read from ``where``), brought to ``SCHEMA_VERSION``.

        Raises:
            RunError: it is not a manifest, or lacks a field every reader relies on, or was
                written by a newer kerasmodels; the message names the field and what to do.
        """
        data = upgrade(data, where)
        arch, dataset = data.get("arch"), data.get("dataset")
        _need(isinstance(arch, dict) and isinstance(arch.get("name"), str), where,
              "'arch.name' must be a string")
        _need(isinstance(arch.get("hparams", {}), dict), where, "'arch.hparams' must be an object")
        _need(isinstance(dataset, dict) and isinstance(dataset.get("name"), str), where,
              "'dataset.name' must be a string")
        shape = dataset.get("input_shape")
        _need(isinstance(shape, list) and all(isinstance(d, int) and d > 0 for d in shape),
              where, "'dataset.input_shape' must be a list of positive integers")
        _need(isinstance(dataset.get("options", {}), dict), where,
              "'dataset.options' must be an object")
        metrics = data.get("metrics", {})
        _need(isinstance(metrics, dict) and all(isinstance(v, dict) for v in metrics.values()),
              where, "'metrics' must map splits to objects")
        for key in ("parent", "recipe"):
            _need(data.get(key) is None or isinstance(data.get(key), str), where,
                  f"'{key}' must be a string or null")
        _need(isinstance(data.get("training", {}), dict), where, "'training' must be an object")
        known = {name for name in DatasetRecord.__dataclass_fields__ if name != "input_shape"}
        return cls(
            id=data["id"],
            arch=ArchRecord(arch["name"], arch.get("family") or "custom",
                            dict(arch.get("hparams") or {}), arch.get("params")),
            dataset=DatasetRecord(input_shape=tuple(shape), **{
                k: v for k, v in dataset.items() if k in known and v is not None}),
            metrics=metrics, training=data.get("training") or {}, parent=data.get("parent"),
            recipe=data.get("recipe"), status=data.get("status", "complete"),
            created_at=data.get("created_at", ""), versions=data.get("versions") or {},
            sections={k: v for k, v in data.items() if k not in KNOWN},
            schema_version=SCHEMA_VERSION)

    @property
    def source(self) -> dict[str, Any]:
        """Where an imported model came from ({} for a model kerasmodels built)."""
        return self.sections.get("source") or {}

    @property
    def compression(self) -> dict[str, Any]:
        """What a recipe did ({} for a run no recipe made)."""
        return self.sections.get("compression") or {}


def upgrade(data: Any, where: str = MANIFEST) -> dict[str, Any]:
    """``data`` migrated, version by version, to ``SCHEMA_VERSION``.

    Raises:
        RunError: not a manifest, or one from a newer kerasmodels.
    """
    _need(isinstance(data, dict), where, "it is not a JSON object")
    _need(isinstance(data.get("id"), str), where, "'id' must be a string")
    version = data.get("schema_version", 1)
    _need(isinstance(version, int) and version >= 1, where,
          "'schema_version' must be a positive integer")
    if version > SCHEMA_VERSION:
        raise RunError(f"{where} was written by a newer kerasmodels (schema {version}; this one "
                       f"reads up to {SCHEMA_VERSION}): upgrade kerasmodels to open it")
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](dict(data))
        version += 1
        data["schema_version"] = version
    return data


def _need(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise RunError(f"{where} is not a valid kerasmodels manifest: {what}; restore it or "
                       "delete the run")


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "ArchRecord", "DatasetRecord", "Manifest", "upgrade"]
