"""Export a run for the edge: TFLite (5 formats), ONNX, SavedModel, each checked against Keras.

Artifacts land in ``<run>/exports/``; ``exports.json`` records each one's bytes, gzip bytes,
sha256 and parity with the Keras model on the test split, and the formats that cannot hold the
model with the reason; ``labels.json`` holds what a device needs besides the model.

>>> import kerasmodels as km
>>> artifacts = km.export("saved_models/cnn-digits-...", formats=["tflite-int8"])  # doctest: +SKIP
>>> artifacts[0].parity["top1_agreement"]  # doctest: +SKIP
0.9972
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.errors import ExportError, UnknownNameError
from kerasmodels.runs import QAT_STATE, Run, load_run, read_json, write_json

TFLITE_FORMATS = ("tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8",
                  "tflite-int16x8")
FORMATS = (*TFLITE_FORMATS, "onnx", "saved_model")
LOSSLESS = ("tflite-float32", "onnx", "saved_model")  # must agree with Keras on >= 99.9%
MIN_AGREEMENT = 0.999
EXPORTS_JSON, LABELS_JSON = "exports.json", "labels.json"


@dataclass
class Artifact:
    """One exported file (or SavedModel folder) and how it compares with its Keras model."""

    format: str
    path: Path
    bytes: int
    gzip_bytes: int
    sha256: str
    parity: dict[str, Any] = field(default_factory=dict)
    quantization: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "path": self.path.name}


def export_formats() -> list[str]:
    return list(FORMATS)


def artifact_name(fmt: str) -> str:
    return "saved_model" if fmt == "saved_model" else f"{fmt}.{fmt.split('-')[0]}"


def export(run: Run | str | Path, formats: list[str] | tuple[str, ...] | None = None, *,
           opset: int = 17, int8_io: bool = True, progress: bool = False) -> list[Artifact]:
    """Export ``run`` to ``formats`` (default: all) and check each against the Keras model.

    Formats that cannot hold the model are skipped with their reason in ``exports.json``
    (and an ExportError when none of the requested formats can). A lossless export (float32
    TFLite, ONNX, SavedModel) whose top-1 agreement with Keras is under 99.9% is an error,
    except for a quantization-aware-trained run: its fake-quantization ops round differently in
    each runtime (ONNX's QuantizeLinear, for one), so no export of it is lossless.
    """
    formats = list(FORMATS if formats is None else formats)
    for fmt in formats:
        if fmt not in FORMATS:
            raise UnknownNameError("export format", fmt, FORMATS)
    run = load_run(run)
    model, data = run.model, run.dataset()
    lossless = set() if (run.path / QAT_STATE).is_file() else set(LOSSLESS)
    folder = run.path / "exports"
    folder.mkdir(exist_ok=True)
    record = read_json(folder / EXPORTS_JSON) if (folder / EXPORTS_JSON).exists() else {}
    record.setdefault("artifacts", {})
    record.setdefault("unsupported", {})
    x_test, y_test = data.test
    from kerasmodels.runtime.keras import KerasPredictor

    reference = KerasPredictor(model).predict(x_test)
    artifacts = []
    iterator = formats
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(formats, desc=f"export {run.id}", unit="format")
    for fmt in iterator:
        try:
            artifact = _export_one(model, fmt, folder, data, opset=opset, int8_io=int8_io)
        except ExportError as exc:
            record["unsupported"][fmt] = str(exc)
            record["artifacts"].pop(fmt, None)
            continue
        artifact.parity = parity(artifact, x_test, y_test, reference, data.task)
        if fmt in lossless and data.task == "classification" and \
                artifact.parity["top1_agreement"] < MIN_AGREEMENT:
            _remove(artifact.path)
            raise ExportError(f"{fmt} disagrees with the Keras model on "
                              f"{1 - artifact.parity['top1_agreement']:.2%} of the test split "
                              f"(max abs difference {artifact.parity['max_abs_diff']:.3g}): the "
                              "conversion is wrong; report it with the run")
        record["unsupported"].pop(fmt, None)
        record["artifacts"][fmt] = artifact.to_json()
        artifacts.append(artifact)
    write_json(folder / EXPORTS_JSON, record)
    write_json(folder / LABELS_JSON, labels_info(run, record["artifacts"]))
    if not artifacts and formats:
        reasons = "; ".join(record["unsupported"][f] for f in formats)
        raise ExportError(f"no requested format can hold {run.id}: {reasons}")
    return artifacts


def _export_one(model, fmt: str, folder: Path, data, *, opset: int, int8_io: bool) -> Artifact:
    target = folder / artifact_name(fmt)
    if fmt == "saved_model":
        from kerasmodels.exports.saved_model import save

        staging = Path(tempfile.mkdtemp(prefix=".saved_model-", dir=folder))
        try:
            save(model, staging)
            _remove(target)
            os.replace(staging, target)
        finally:
            _remove(staging)
        return describe(fmt, target)
    if fmt == "onnx":
        from kerasmodels.exports.onnx import convert as to_onnx

        content = to_onnx(model, opset=opset)
    else:
        from kerasmodels.exports.tflite import convert as to_tflite

        content = to_tflite(model, fmt, data.train[0], int8_io=int8_io)
    _write_atomically(target, content)
    artifact = describe(fmt, target)
    if fmt.startswith("tflite"):
        from kerasmodels.edge import LiteRTModel

        artifact.quantization = LiteRTModel(target).quantization
    return artifact


def parity(artifact: Artifact, x, y, reference: np.ndarray, task: str) -> dict[str, Any]:
    """Max abs difference from the Keras outputs, top-1 agreement and the artifact's accuracy."""
    from kerasmodels.runtime import load_predictor

    outputs = load_predictor(artifact.path).predict(x)
    result = {"samples": len(x), "max_abs_diff": float(np.abs(outputs - reference).max())}
    if task == "classification":
        result["top1_agreement"] = float((outputs.argmax(-1) == reference.argmax(-1)).mean())
        result["accuracy"] = float((outputs.argmax(-1) == y).mean())
    else:
        result["mae"] = float(np.abs(outputs.ravel() - y.ravel()).mean())
    return result


def labels_info(run: Run, artifacts: dict[str, Any]) -> dict[str, Any]:
    """What a device needs besides the model file."""
    info = run.manifest["dataset"]
    return {"run": run.id, "task": info.get("task"), "input_shape": info["input_shape"],
            "dtype": info.get("dtype", "float32"), "labels": info.get("labels"),
            "preprocessing": info.get("preprocessing", {}),
            "quantization": {fmt: a["quantization"] for fmt, a in artifacts.items()
                             if a.get("quantization")}}


def describe(fmt: str, path: Path) -> Artifact:
    """Bytes, gzip bytes and sha256 of a file or folder."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest, size, packed = hashlib.sha256(), 0, 0
    for file in files:
        content = file.read_bytes()
        digest.update(content)
        size += len(content)
        packed += len(gzip.compress(content, compresslevel=9, mtime=0))
    return Artifact(fmt, path, size, packed, digest.hexdigest())


def _write_atomically(path: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


__all__ = ["FORMATS", "LOSSLESS", "Artifact", "describe", "export", "export_formats"]
