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

from kerasmodels.errors import ExportError, HyperparameterError, UnknownNameError
from kerasmodels.runs import Run, load_run, read_json, write_json

TFLITE_FORMATS = ("tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8",
                  "tflite-int16x8")
FORMATS = (*TFLITE_FORMATS, "tflite-micro", "onnx", "saved_model")
# what export() makes when no format is named: tflite-micro (full int8 for microcontrollers,
# checked with TFLM's reference kernels) is made when asked for
DEFAULT_FORMATS = tuple(f for f in FORMATS if f != "tflite-micro")
LOSSLESS = ("tflite-float32", "onnx", "saved_model")  # the same function, in other runtimes
# The export of a format fails when its file agrees with the Keras model on less than this
# share of the test split's top-1 labels (classification) ...
AGREEMENT_FLOORS = {"tflite-float32": 0.999, "onnx": 0.999, "saved_model": 0.999,
                    "tflite-float16": 0.99, "tflite-dynamic": 0.98, "tflite-int16x8": 0.98,
                    "tflite-int8": 0.95, "tflite-micro": 0.95}
# ... or, for regression, when its largest difference from the Keras outputs exceeds this
# fraction of their standard deviation.
DIFFERENCE_CEILINGS = {"tflite-float32": 1e-4, "onnx": 1e-4, "saved_model": 1e-4,
                       "tflite-float16": 0.01, "tflite-dynamic": 0.05, "tflite-int16x8": 0.05,
                       "tflite-int8": 0.15, "tflite-micro": 0.15}
# A quantization-aware-trained run's fake quantization rounds differently in each runtime
# (ONNX's QuantizeLinear, for one): every format of it is held to the int8 bounds.
QAT_FORMAT_BOUNDS = "tflite-int8"
MIN_OPSET, MAX_OPSET = 13, 18
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
    device: dict[str, Any] | None = None  # tflite-micro: flash and arena bytes, ops

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "path": self.path.name}


def export_formats() -> list[str]:
    return list(FORMATS)


def artifact_name(fmt: str) -> str:
    """The file (or folder: saved_model, tflite-micro) a format is written to."""
    if fmt in ("saved_model", "tflite-micro"):
        return fmt
    return f"{fmt}.{fmt.split('-')[0]}"


def export(run: Run | str | Path, formats: list[str] | tuple[str, ...] | None = None, *,
           opset: int = 17, int8_io: bool = True, progress: bool = False) -> list[Artifact]:
    """Export ``run`` to ``formats`` (default: all but ``tflite-micro``, which is made when
    asked for) and check each against the Keras model.

    Formats that cannot hold the model (a converter's known limitation, with its reason) are
    skipped and listed in ``exports.json`` (an ExportError when none of the requested formats
    can); any other converter error is raised. Every file is checked against the Keras model
    on the test split and the export fails below its format's floor (``AGREEMENT_FLOORS``:
    top-1 agreement, 99.9% for the lossless formats, 95% for int8; ``DIFFERENCE_CEILINGS`` for
    regression). A quantization-aware-trained run is held to the int8 bounds in every format.
    """
    if isinstance(formats, str):
        formats = [formats]
    formats = list(DEFAULT_FORMATS if formats is None else formats)
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise HyperparameterError(f"opset must be an ONNX opset from {MIN_OPSET} to {MAX_OPSET} "
                                  f"(tf2onnx's range), got {opset!r}")
    for fmt in formats:
        if fmt not in FORMATS:
            raise UnknownNameError("export format", fmt, FORMATS)
    run = load_run(run)
    model, data = run.model, run.dataset()
    quantization_aware = run.quantization_aware
    folder = run.path / "exports"
    for stray in run.path.glob(".exports-*"):  # left by an export that was killed
        _remove(stray)
    # the set is written in a staging folder and published in one swap: a kill or a full disk
    # leaves the previous exports as they were, never a half-written set
    staging = Path(tempfile.mkdtemp(prefix=".exports-new-", dir=run.path))
    try:
        record = _carry_over(folder, staging)
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
                artifact = _export_one(model, fmt, staging, data, opset=opset, int8_io=int8_io)
            except ExportError as exc:
                record["unsupported"][fmt] = str(exc)
                _remove(staging / artifact_name(fmt))
                record["artifacts"].pop(fmt, None)
                continue
            artifact.parity = parity(artifact, x_test, y_test, reference, data.task)
            check_agreement(fmt, artifact.parity, reference,
                            QAT_FORMAT_BOUNDS if quantization_aware else fmt)
            record["unsupported"].pop(fmt, None)
            record["artifacts"][fmt] = artifact.to_json()
            artifacts.append(artifact)
        if not artifacts and formats:
            reasons = "; ".join(record["unsupported"][f] for f in formats)
            raise ExportError(f"no requested format can hold {run.id}: {reasons}")
        write_json(staging / EXPORTS_JSON, record)
        write_json(staging / LABELS_JSON, labels_info(run, record["artifacts"]))
        _publish(staging, folder)
    finally:
        _remove(staging)
    for artifact in artifacts:
        artifact.path = folder / artifact.path.name
    return artifacts


def check_agreement(fmt: str, result: dict[str, Any], reference: np.ndarray,
                    bounds: str | None = None) -> None:
    """Raise ExportError when ``fmt``'s parity ``result`` is below the floor of ``bounds``
    (a format name; ``fmt`` itself by default)."""
    bounds = bounds or fmt
    if "top1_agreement" in result:
        floor, agreement = AGREEMENT_FLOORS[bounds], result["top1_agreement"]
        if agreement >= floor:
            return
        problem = (f"{fmt} agrees with the Keras model on {agreement:.2%} of the test split's "
                   f"labels, below its floor of {floor:.1%}")
    else:
        ceiling = DIFFERENCE_CEILINGS[bounds]
        relative = result["max_abs_diff"] / max(float(np.std(reference)), 1e-12)
        if relative <= ceiling:
            return
        problem = (f"{fmt} differs from the Keras model by up to {relative:.3g} standard "
                   f"deviations of its outputs on the test split, above its ceiling of {ceiling}")
    fix = ("the conversion is wrong; report it with the run" if bounds in LOSSLESS else
           "export a float format (tflite-float32, onnx), or train the run quantization-aware "
           "(kerasmodels compress RUN qat) for integer formats")
    raise ExportError(f"{problem}: {fix}")


def _carry_over(folder: Path, staging: Path) -> dict[str, Any]:
    """The previous set's record, with its recorded files linked into ``staging``."""
    record = read_json(folder / EXPORTS_JSON) if (folder / EXPORTS_JSON).is_file() else {}
    if not isinstance(record, dict):
        record = {}
    artifacts = record.get("artifacts") if isinstance(record.get("artifacts"), dict) else {}
    kept = {}
    for fmt, entry in artifacts.items():
        source = folder / artifact_name(fmt) if fmt in FORMATS else None
        if source is None or not source.exists():
            continue
        if source.is_dir():
            shutil.copytree(source, staging / source.name, copy_function=_link_or_copy)
        else:
            _link_or_copy(source, staging / source.name)
        kept[fmt] = entry
    unsupported = record.get("unsupported") if isinstance(record.get("unsupported"), dict) else {}
    return {"artifacts": kept, "unsupported": dict(unsupported)}


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _publish(staging: Path, folder: Path) -> None:
    """Swap ``staging`` in as ``folder``: two renames, the old set removed after."""
    old = None
    if folder.exists():
        old = folder.with_name(f".exports-old-{os.getpid()}")
        _remove(old)
        os.replace(folder, old)
    os.replace(staging, folder)
    if old is not None:
        _remove(old)


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
    if fmt == "tflite-micro":
        return _export_micro(model, folder, data)
    if fmt == "onnx":
        from kerasmodels.exports.onnx import convert as to_onnx

        content = to_onnx(model, opset=opset)
    else:
        from kerasmodels.exports.tflite import convert as to_tflite

        content = to_tflite(model, fmt, data.train[0], int8_io=int8_io)
    _write_atomically(target, content)
    artifact = describe(fmt, target)
    if fmt in TFLITE_FORMATS:
        from kerasmodels.edge import LiteRTModel

        artifact.quantization = LiteRTModel(target).quantization
    return artifact


def _export_micro(model, folder: Path, data) -> Artifact:
    """The ``tflite-micro`` folder: full int8 at a batch of one, its C files, the measured
    arena, and its top-1 agreement with the same file run by LiteRT."""
    from kerasmodels.edge import LiteRTModel
    from kerasmodels.exports import micro
    from kerasmodels.exports.tflite import convert as to_tflite

    content = to_tflite(model, "tflite-int8", data.train[0], int8_io=True, batch=1)
    target = folder / artifact_name("tflite-micro")
    staging = Path(tempfile.mkdtemp(prefix=".tflite-micro-", dir=folder))
    try:
        device = micro.write(staging, content, data.test[0][:1])
        _remove(target)
        os.replace(staging, target)
    finally:
        _remove(staging)
    x = data.test[0]
    on_device = micro.MicroModel(target).predict(x)
    litert = LiteRTModel(target / micro.MODEL_FILE)
    device["litert_agreement"] = float((on_device.argmax(-1) ==
                                        litert.predict(x).argmax(-1)).mean())
    artifact = describe("tflite-micro", target)
    artifact.quantization, artifact.device = litert.quantization, device
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
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


__all__ = ["DEFAULT_FORMATS", "FORMATS", "LOSSLESS", "Artifact", "describe", "export",
           "export_formats"]
