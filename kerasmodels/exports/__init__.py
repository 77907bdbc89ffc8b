"""Export a run for the edge in the formats of ``kerasmodels.formats``, each checked
against its Keras model.

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

from kerasmodels.diagnosis import collapse_message
from kerasmodels.errors import (
    ConverterCrashError,
    ExportError,
    HyperparameterError,
    InputShapeError,
    ModelFileError,
    ParityError,
)
from kerasmodels.exports import isolation
from kerasmodels.formats import (
    ExportFormat,
    check_options,
    default_formats,
    export_formats,
    format_names,
    get_format,
    options_for,
    resolve,
)
from kerasmodels.layout import EXPORTS, EXPORTS_RECORD, FEATURES, LABELS
from kerasmodels.logs import get_logger
from kerasmodels.runs import Run, load_run, read_json, write_json
from kerasmodels.tasks import get_task, score_of

LOG = get_logger(__name__)



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
    runtime: dict[str, Any] | None = None  # a .tflite: the oldest runtime that runs it
    # (min_runtime_version) and the version of each op it uses

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "path": self.path.name}


def artifact_name(fmt: str) -> str:
    """The file (or folder) format ``fmt`` is written to in ``exports/``."""
    return get_format(fmt).file


def export(run: Run | str | Path, formats: list[str] | tuple[str, ...] | None = None, *,
           progress: bool = False, on_error: str = "raise", **options: Any) -> list[Artifact]:
    """Export ``run`` to ``formats`` (default: the table's default rows) and check each
    against the Keras model.

    Args:
        run: a run, or its folder.
        formats: names of rows of ``kerasmodels.formats`` (default: its ``default`` rows).
        progress: show a bar, one step per format.
        on_error: what a format that fails does. ``"raise"`` (default): the formats that
            passed are published, then an ExportError names each one that failed.
            ``"skip"``: the formats that passed are returned; the failures are listed in
            ``exports.json`` (``failed``: reason and kind) and nothing is raised.
        **options: ``opset``, ``io_type``, ``compress_weights``, ``author``, ``version``, ``description`` (see
            ``kerasmodels.formats.OPTIONS``), given to the formats that take them.

    Returns:
        The artifacts written and checked, in the order asked.

    Raises:
        ExportError: none of ``formats`` can hold the model (each reason named), or, with
            ``on_error="raise"``, one failed (its ``artifacts`` are those that passed): a ``kerasmodels.errors.ParityError``
            (below its format's ``agreement_floor`` for classification, above its
            ``difference_ceiling`` for regression, on the test split) or a
            ``kerasmodels.errors.ConverterCrashError`` (its converter killed the worker
            process it runs in, or failed with a bug).
        HyperparameterError: an option no requested format takes, or a bad value.

    Formats that cannot hold the model (a converter's known limitation) are skipped and listed
    in ``exports.json`` with the reason. Converters that can crash a process (the rows marked
    ``isolated``) run in a worker process (``kerasmodels.exports.isolation``). A
    quantization-aware-trained run is held to the integer bounds in every format.

    Examples:
        >>> import kerasmodels as km
        >>> artifacts = km.export(run, ["tflite-int8", "onnx"])
        >>> [(a.format, a.parity["top1_agreement"] >= 0.95) for a in artifacts]
        [('tflite-int8', True), ('onnx', True)]
        >>> km.export(run, ["tflite-int8"], opset=17)
        Traceback (most recent call last):
        ...
        kerasmodels.errors.HyperparameterError: ...opset...
    """
    run = load_run(run)
    names, rows = _requested(formats, on_error, options,
                             run.record.dataset.preprocessing.get("kind"))
    if any(fmt.isolated for fmt in rows):
        isolation.start()  # TensorFlow starts there while this process computes the reference
    model, data = run.model, run.dataset()
    folder = run.path / EXPORTS
    for stray in run.path.glob(".exports-*"):  # left by an export that was killed
        _remove(stray)
    # the set is written in a staging folder and published in one swap: a kill or a full disk
    # leaves the previous exports as they were, never a half-written set
    staging = Path(tempfile.mkdtemp(prefix=".exports-new-", dir=run.path))
    failures: list[ExportError] = []
    try:
        record = _carry_over(folder, staging)
        from kerasmodels.runtime.keras import KerasPredictor

        job = _Job(run, model, data, staging, record, model_info(run, options), options,
                   KerasPredictor(model).predict(data.test[0]),
                   integer_bounds() if run.quantization_aware else None)
        iterator = rows
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(rows, desc=f"export {run.id}", unit="format")
        artifacts = [a for a in (job.make(fmt, failures) for fmt in iterator) if a is not None]
        if not artifacts and not failures and rows:
            reasons = "; ".join(record["unsupported"][name] for name in names)
            raise ExportError(f"no requested format can hold {run.id}: {reasons}")
        _write_records(staging, run, record, data.preprocessing, options)
        _publish(staging, folder)
    finally:
        _remove(staging)
    for artifact in artifacts:
        artifact.path = folder / artifact.path.name
    if failures and on_error == "raise":
        error = failures[0] if len(failures) == 1 else ExportError(
            "; ".join(str(exc) for exc in failures))
        error.artifacts = artifacts  # what passed, published: a caller can show it
        raise error
    return artifacts


def _requested(formats, on_error: str, options: dict[str, Any], kind: str | None = None
               ) -> tuple[list[str], list]:
    """The names and rows of the formats asked for (none named: the defaults for a run of
    ``kind``), their options checked."""
    if isinstance(formats, str):
        formats = [formats]
    if on_error not in ON_ERROR:
        raise HyperparameterError(f"on_error must be one of {', '.join(ON_ERROR)}, got "
                                  f"{on_error!r}")
    names = list(default_formats(kind) if formats is None else formats)
    rows = [get_format(name) for name in names]
    check_options(rows, options)
    return names, rows


@dataclass
class _Job:
    """One export call: what every format is converted from and checked against."""

    run: Run
    model: Any
    data: Any
    staging: Path
    record: dict[str, Any]
    info: dict[str, Any]
    options: dict[str, Any]
    reference: Any  # the Keras model's outputs on the test split
    bounds: Any  # a quantization-aware run's integer bounds, or None
    heard: Any = None  # a model that hears: clips, no labels, Keras on their features
    crashed: list = field(default_factory=list)  # known converter crashes of this export

    def sound(self) -> tuple[np.ndarray, None, np.ndarray]:
        """What a format that takes sound is checked on (the splits hold features, not
        sound): seeded noise and tones, and the Keras model's outputs on training's features
        of them."""
        if self.heard is None:
            from kerasmodels.audio import FeatureParams
            from kerasmodels.data.audio import compute_features, probe_sound
            from kerasmodels.runtime.keras import KerasPredictor

            preprocessing = self.info["preprocessing"]
            clips = probe_sound(preprocessing)
            self.heard = (clips, None, KerasPredictor(self.model).predict(
                compute_features(clips, FeatureParams.from_preprocessing(preprocessing))))
        return self.heard

    def make(self, fmt, failures: list[ExportError]) -> Artifact | None:
        """``fmt``'s file, checked; None when it cannot hold the model (recorded in
        ``unsupported``) or failed (recorded in ``failed``, appended to ``failures``)."""
        target = self.staging / fmt.file
        _remove(target)  # a link to the previous set's file: never written through
        for entries in (self.record["artifacts"], self.record["unsupported"],
                        self.record["failed"]):
            entries.pop(fmt.name, None)
        x_test, y_test = self.data.test
        reference = self.reference
        if fmt.takes_sound and self.info["preprocessing"].get("kind") == "audio":
            x_test, y_test, reference = self.sound()
        try:
            skipped = isolation.known_to_crash(fmt.name, self.crashed)
            if skipped is not None:
                raise skipped
            extras = _convert(fmt, self.run, self.model, target, self.data, self.info,
                              self.options)
            artifact = describe(fmt.name, target)
            artifact.quantization = extras.get("quantization")
            artifact.device = extras.get("device")
            artifact.runtime = extras.get("runtime")
            try:
                artifact.parity = parity(artifact, x_test, y_test, reference,
                                         self.data.task)
            except (ModelFileError, InputShapeError) as exc:
                raise ConverterCrashError(f"{fmt.name}: the converter wrote a file that "
                                          f"{fmt.runtime} cannot run ({exc})") from exc
            except RuntimeError as exc:  # the runtime has no kernel for an op of the file
                first = (str(exc).strip().splitlines() or [""])[0][:240]
                if "failed to invoke" not in first and "only supports" not in first:
                    raise
                raise ExportError(f"{fmt.name} cannot hold this model: {fmt.runtime} has no "
                                  f"kernel for what its converter wrote ({first})") from exc
            check_agreement(fmt.name, artifact.parity, reference, self.bounds, y_test)
        except (ParityError, ConverterCrashError) as exc:
            _remove(target)
            if isinstance(exc, ConverterCrashError) and getattr(exc, "known", None):
                self.crashed.append(exc)
            self.record["failed"][fmt.name] = {"kind": failure_kind(exc), "reason": str(exc),
                                               "parity": getattr(exc, "parity", None)}
            failures.append(exc)
            return None
        except ExportError as exc:  # a format that cannot hold the model
            _remove(target)
            self.record["unsupported"][fmt.name] = str(exc)
            return None
        self.record["artifacts"][fmt.name] = artifact.to_json()
        return artifact


ON_ERROR = ("raise", "skip")


def failure_kind(exc: ExportError) -> str:
    """How an export failed, in words a table shows: ``below floor``, ``converter failed``
    or ``cannot hold``."""
    if isinstance(exc, ParityError):
        return "below floor"
    if isinstance(exc, ConverterCrashError):
        return "converter failed"
    return "cannot hold"


def _convert(fmt: ExportFormat, run: Run, model, target: Path, data, info: dict[str, Any],
             options: dict[str, Any]) -> dict[str, Any]:
    """``fmt``'s converter on ``model``: in the worker process when its row is ``isolated``."""
    given = options_for(fmt, options)
    # a run made with your own classes (custom_objects) loads only where they are registered:
    # here, not in the worker
    yours = run.record.source.get("custom_objects")
    if fmt.isolated and isolation.isolated() and not yours:
        return isolation.convert(fmt, run, target, data=data, info=info, options=given,
                                 parts=isolation.model_parts(model))
    try:
        return resolve(fmt.converter)(model, target, fmt=fmt, data=data, info=info, **given)
    except (ExportError, OSError):  # OSError: the machine's (a full disk), the export stops
        raise
    except Exception as exc:  # a bug in a converter: named, not a traceback
        LOG.debug("%s's converter failed", fmt.name, exc_info=True)
        raise isolation.failure(fmt.name, type(exc).__name__, str(exc)) from exc


def integer_bounds() -> ExportFormat:
    """The loosest bounds of the integer formats: what every format of a quantization-aware
    run is held to (its fake quantization rounds differently in each runtime: ONNX's
    QuantizeLinear, for one)."""
    return min((f for f in export_formats() if f.integer), key=lambda f: f.agreement_floor)


def check_agreement(fmt: str, result: dict[str, Any], reference: np.ndarray,
                    bounds: ExportFormat | None = None, y: np.ndarray | None = None) -> None:
    """Raise ParityError when ``fmt``'s parity ``result`` is below the floor of ``bounds``
    (a row of the format table; ``fmt``'s own by default)."""
    bounds = bounds or get_format(fmt)
    if "top1_agreement" in result:
        floor, agreement = bounds.agreement_floor, result["top1_agreement"]
        if agreement >= floor:
            return
        problem = (f"{fmt} agrees with the Keras model on {agreement:.2%} of the test split's "
                   f"labels, below its floor of {floor:.1%}")
    elif "auc" in result:
        ceiling, drop = bounds.auc_drop_ceiling, result["keras_auc"] - result["auc"]
        if drop <= ceiling:
            return
        problem = (f"{fmt}'s anomaly scores have a test ROC AUC of {result['auc']:.4f} against "
                   f"the Keras model's {result['keras_auc']:.4f}, a drop above its ceiling "
                   f"of {ceiling}")
    else:
        ceiling = bounds.difference_ceiling
        relative = result["max_abs_diff"] / max(float(np.std(reference)), 1e-12)
        if relative <= ceiling:
            return
        problem = (f"{fmt} differs from the Keras model by up to {relative:.3g} standard "
                   f"deviations of its outputs on the test split, above its ceiling of {ceiling}")
    repair = next((f.name for f in export_formats() if f.repairs == fmt), None)
    fix = ("the conversion is wrong; report it with the run" if bounds.lossless else
           "export a float format (tflite-float32, onnx)"
           + (f", or {repair}, which keeps the layers that lose most in float" if repair else "")
           + ", or train the run quantization-aware (kerasmodels compress RUN qat) for integer "
           "formats")
    collapsed = collapse_message(reference, y, split="the test split") \
        if "top1_agreement" in result else None
    if collapsed:  # the file is not the problem: the model is
        fix = collapsed
    raise ParityError(f"{problem}: {fix}", result)


def _carry_over(folder: Path, staging: Path) -> dict[str, Any]:
    """The previous set's record, with its recorded files linked into ``staging``."""
    record = read_json(folder / EXPORTS_RECORD) if (folder / EXPORTS_RECORD).is_file() else {}
    if not isinstance(record, dict):
        record = {}
    artifacts = record["artifacts"] if isinstance(record.get("artifacts"), dict) else {}
    kept = {}
    for fmt, entry in artifacts.items():
        source = folder / artifact_name(fmt) if fmt in format_names() else None
        if source is None or not source.exists():
            continue
        if source.is_dir():
            shutil.copytree(source, staging / source.name, copy_function=_link_or_copy)
        else:
            _link_or_copy(source, staging / source.name)
        kept[fmt] = entry
    unsupported = record["unsupported"] if isinstance(record.get("unsupported"), dict) else {}
    failed = record["failed"] if isinstance(record.get("failed"), dict) else {}
    return {"artifacts": kept, "unsupported": dict(unsupported), "failed": dict(failed)}


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


def parity(artifact: Artifact, x, y, reference: np.ndarray, task: str) -> dict[str, Any]:
    """Max abs difference from the Keras outputs, top-1 agreement and the artifact's accuracy."""
    from kerasmodels.runtime import load_predictor

    outputs = load_predictor(artifact.path).predict(x)
    result = {"samples": len(x), "max_abs_diff": float(np.abs(outputs - reference).max())}
    row = get_task(task)
    if task == "classification":
        result["top1_agreement"] = float((outputs.argmax(-1) == reference.argmax(-1)).mean())
        if y is not None:  # None: checked on probe sounds, which have no labels
            result["accuracy"] = float((outputs.argmax(-1) == y).mean())
    elif row.reconstructs:  # the anomaly score's ROC AUC, the file's and the Keras model's
        result["auc"] = row.measure(outputs, x, y)["auc"]
        result["keras_auc"] = row.measure(reference, x, y)["auc"]
    else:
        result["mae"] = float(np.abs(outputs.ravel() - y.ravel()).mean())
    return result


def model_info(run: Run, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a device needs besides the model file, and the metadata written into it: name,
    description, version, author (``options`` override the last three)."""
    options = options or {}
    info = run.record.dataset
    test = run.metrics.get("test", {})
    key = score_of(info.task or "") or ""
    score = ""
    if key in test:
        shown = f"{test[key]:.4g}" if key == "mae" else f"{test[key]:.4f}"
        score = f"test {key if key == 'accuracy' else key.upper()} {shown}"
    recipe = f", compressed with {run.record.recipe}" if run.record.recipe else ""
    description = (f"{run.arch} trained on {info.name} by kerasmodels"
                   f"{recipe}" + (f"; {score}" if score else ""))
    from kerasmodels._version import __version__

    return {"run": run.id, "name": run.id,
            "description": options.get("description") or description,
            "version": options.get("version") or run.id,
            "author": options.get("author") or f"kerasmodels {__version__}",
            "task": info.task, "input_shape": list(info.input_shape), "dtype": info.dtype,
            "labels": info.labels, "preprocessing": info.preprocessing}


def _write_records(staging: Path, run: Run, record: dict[str, Any],
                   preprocessing: dict[str, Any], options: dict[str, Any]) -> None:
    """``exports.json``, ``labels.json`` and, for a model that hears, ``features.tflite``."""
    if preprocessing.get("kind") == "audio":
        record["features"] = write_feature_model(preprocessing, staging / FEATURES)
    write_json(staging / EXPORTS_RECORD, record)
    write_json(staging / LABELS, labels_info(run, record["artifacts"], options))


def write_feature_model(preprocessing: dict[str, Any], path: Path) -> dict[str, Any]:
    """An audio model's features as a ``.tflite`` of their own (``features.tflite``), checked
    in LiteRT against the features training computed, on seeded noise and tones."""
    from kerasmodels.audio import FeatureParams
    from kerasmodels.data.audio import compute_features, feature_model, probe_clips
    from kerasmodels.runtime.litert import LiteRTModel

    params = FeatureParams.from_preprocessing(preprocessing)
    path.write_bytes(feature_model(params))
    clips = probe_clips(params, noise=4)
    got, expected = LiteRTModel(path).predict(clips), compute_features(clips, params)
    difference = float(np.abs(got - expected).max())
    # float32 FFTs differ in their last bits, which the log of a near-silent band magnifies
    if difference > 1e-3 * max(1.0, float(np.abs(expected).max())):
        raise ExportError(f"{FEATURES} computes features {difference:.3g} away from training's "
                          f"(of {float(np.abs(expected).max()):.3g}): report it with the run's "
                          "feature parameters")
    return {"path": FEATURES, "bytes": path.stat().st_size, "max_abs_diff": difference,
            "params": preprocessing}


def labels_info(run: Run, artifacts: dict[str, Any],
                options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``labels.json``: ``model_info`` and each artifact's input/output quantization."""
    return {**model_info(run, options), "quantization": {fmt: a["quantization"] for fmt, a in
                                                artifacts.items() if a.get("quantization")}}


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


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


__all__ = ["Artifact", "artifact_name", "describe", "export", "export_formats", "model_info"]
