"""Every export format in one table: what it is called, where it goes, what makes and runs it.

``km.export``, ``km.load_predictor``, ``km.benchmark``, ``km.sweep``, ``km.load_variants``, the
CLI and the dashboard read this table and nothing else; adding a format is one row here and one
converter function (``converter(model, target, *, fmt, data, info, **options) -> dict``, which
writes ``target`` and returns what the artifact records besides its bytes). It imports neither
TensorFlow nor a runtime: converters and loaders are named, and imported when used.

>>> from kerasmodels.formats import export_formats, get_format
>>> [f.name for f in export_formats() if f.device == "microcontroller"]
['tflite-micro']
>>> get_format("onnx").options
('opset', 'author', 'version', 'description')
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kerasmodels.errors import HyperparameterError, UnknownNameError
from kerasmodels.options import Option, option_table

METADATA_OPTIONS = ("author", "version", "description")


@dataclass(frozen=True)
class ExportFormat:
    """One row of the table."""

    name: str
    file: str  # its file (or folder) in <run>/exports/
    converter: str  # "module:function" that writes it
    loader: str  # "module:Class" that runs it: Class(path) or Class(path, num_threads=n)
    runtime: str  # the runtime that checks it (a predictor's ``name``)
    device: str  # what it is for
    lossless: bool  # the same function as the Keras model, in another runtime
    agreement_floor: float  # least top-1 agreement with Keras on the test split
    difference_ceiling: float  # regression: largest difference, in std of the outputs
    auc_drop_ceiling: float  # anomaly detection: largest drop of the test ROC AUC from Keras'
    options: tuple[str, ...] = ()  # the export options it takes (OPTIONS)
    default: bool = True  # made by export() when no format is named
    quick: bool = False  # the demo's and the dashboard's first choice
    sweep: bool = False  # compared by km.sweep (by the targets whose runtime runs it)
    integer: bool = False  # integer arithmetic only (what a quantization-aware run is for)
    int8_kernels: bool = False  # its kernels multiply int8 values (full int8; dynamic range
    # quantizes activations on the fly): the latency floor counts int8 lanes
    playground: bool = True  # offered by km.load_variants (the dashboard's Playground)
    threads: bool = False  # its runtime's thread count can be set
    ram: str = "peak_rss"  # how the benchmark knows its RAM: a fresh process's peak resident
    # memory while it loads and runs the model ("peak_rss"), the measured TFLM arena ("arena")
    marker: str = ""  # a folder format: the file that identifies one
    for_kind: str = ""  # made only for runs whose dataset's preprocessing is of this kind (by
    # default for those; refused for the others), "" for every run
    takes_sound: bool = False  # its input is a clip of sound (a model that hears, with its
    # feature front end inside), not the model's own input
    isolated: bool = False  # its converter runs native code that can kill a process: it runs
    # in a worker process (kerasmodels/exports/isolation.py), where a crash is an ExportError
    repairs: str = ""  # the row whose misses this one answers: the sweep makes it for a run
    # whose file in that format is below its floor
    note: str = ""

    @property
    def is_folder(self) -> bool:
        return bool(self.marker)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_TFLITE: dict[str, Any] = dict(converter="kerasmodels.exports.tflite:write",
                               loader="kerasmodels.runtime.litert:LiteRTModel", runtime="litert",
                               threads=True, isolated=True)
_METADATA = METADATA_OPTIONS

FORMATS: list[ExportFormat] = [
    ExportFormat("tflite-float32", "tflite-float32.tflite", **_TFLITE, device="phone", lossless=True,
                 agreement_floor=0.999, difference_ceiling=1e-4, auc_drop_ceiling=0.001,
                 options=_METADATA, quick=True,
                 sweep=True),
    ExportFormat("tflite-float16", "tflite-float16.tflite", **_TFLITE, device="phone (GPU)",
                 lossless=False, agreement_floor=0.99, difference_ceiling=0.01,
                 auc_drop_ceiling=0.005, options=_METADATA,
                 sweep=True),
    ExportFormat("tflite-dynamic", "tflite-dynamic.tflite", **_TFLITE, device="phone",
                 lossless=False, agreement_floor=0.98, difference_ceiling=0.05,
                 auc_drop_ceiling=0.01, options=_METADATA,
                 sweep=True, int8_kernels=True),
    ExportFormat("tflite-int8", "tflite-int8.tflite", **_TFLITE, device="phone (NPU, DSP)",
                 lossless=False, agreement_floor=0.95, difference_ceiling=0.15,
                 auc_drop_ceiling=0.02, options=("io_type", *_METADATA), quick=True, sweep=True,
                 integer=True, int8_kernels=True),
    ExportFormat("tflite-mixed", "tflite-mixed.tflite", **_TFLITE, device="phone (CPU)",
                 lossless=False, agreement_floor=0.95, difference_ceiling=0.15,
                 auc_drop_ceiling=0.02, options=_METADATA,
                 default=False, int8_kernels=True, repairs="tflite-int8",
                 note="int8 with the layers that lose most kept in float (TensorFlow's "
                      "QuantizationDebugger ranks them) until it meets the int8 floor on "
                      "validation; float in and out. The sweep makes it when tflite-int8 misses "
                      "its floor"),
    ExportFormat("tflite-int16x8", "tflite-int16x8.tflite", **_TFLITE, device="accuracy studies",
                 lossless=False, agreement_floor=0.98, difference_ceiling=0.05,
                 auc_drop_ceiling=0.01, options=_METADATA,
                 default=False, playground=False,
                 note="no fast kernel in LiteRT here (scripts/bench_compression.py times it): "
                      "made when named, for accuracy studies"),
    ExportFormat("tflite-audio", "tflite-audio.tflite",
                 converter="kerasmodels.exports.audio:write",
                 loader="kerasmodels.runtime.litert:LiteRTModel", runtime="litert",
                 threads=True, isolated=True, device="phone (AudioClassifier)",
                 lossless=False, agreement_floor=0.98, difference_ceiling=1e-3,
                 auc_drop_ceiling=0.001, options=_METADATA, for_kind="audio",
                 takes_sound=True, playground=False,
                 note="a model that hears, with its feature front end inside: one clip of "
                      "sound in (float32, the dataset's sample rate), class scores out, and "
                      "audio metadata: what the Task Library's and MediaPipe's "
                      "AudioClassifier open. Checked on seeded noise and tones against the "
                      "Keras model on training's features"),
    ExportFormat("tflite-micro", "tflite-micro", converter="kerasmodels.exports.micro:write",
                 loader="kerasmodels.runtime.micro:MicroModel", runtime="tflm",
                 device="microcontroller", lossless=False, agreement_floor=0.95,
                 difference_ceiling=0.15, auc_drop_ceiling=0.02,
                 default=False, integer=True, ram="arena", options=("compress_weights",),
                 sweep=True,
                 marker="model_data.h", isolated=True,
                 note="full int8, batch 1, C source and header, arena measured with TFLM; "
                      "weights with few values per channel (clustered, pruned) stored as "
                      "look-up-table indices by TFLM's compressor, checked bit for bit"),
    ExportFormat("onnx", "onnx.onnx", converter="kerasmodels.exports.onnx:write",
                 loader="kerasmodels.runtime.onnx:OnnxPredictor", runtime="onnxruntime",
                 device="server, desktop, browser", lossless=True, agreement_floor=0.999,
                 difference_ceiling=1e-4, auc_drop_ceiling=0.001,
                 options=("opset", *_METADATA), quick=True, threads=True,
                 isolated=True),
    ExportFormat("saved_model", "saved_model", converter="kerasmodels.exports.saved_model:write",
                 loader="kerasmodels.runtime.keras:SavedModelPredictor", runtime="tensorflow",
                 device="server (TF Serving)", lossless=True, agreement_floor=0.999,
                 difference_ceiling=1e-4, auc_drop_ceiling=0.001,
                 playground=False, ram="", marker="saved_model.pb"),
]


OPTIONS = option_table(
    Option("opset", 17, int, "the ONNX opset (tf2onnx's range)", low=13, high=18),
    Option("io_type", "auto", str, "what full int8 takes and returns: uint8 (camera pixels "
           "0-255, the input normalization folded into the input's quantization, what the "
           "Task Library and Model Maker's image models take), int8 (microcontrollers), float "
           "(float in and out); auto: uint8 for image models, int8 for the others",
           choices=("auto", "uint8", "int8", "float")),
    Option("compress_weights", True, bool, "store weight tensors with at most 128 values per "
           "channel (clustered, pruned) as TFLM look-up-table indices where that saves flash "
           "(they are decoded into the arena, which grows; False: plain int8)"),
    Option("author", None, str, "the author written into the model's metadata (default: "
           "kerasmodels and its version)", max_length=1000),
    Option("version", None, str, "the model version written into its metadata (default: the "
           "run id)", max_length=1000),
    Option("description", None, str, "the description written into its metadata (default: "
           "what the run is, its data and test score)", max_length=1000),
)


def export_formats() -> list[ExportFormat]:
    """The export formats: a copy of the one table every consumer reads.

    ``km.export``, ``km.load_predictor``, ``km.benchmark``, ``km.sweep``, the CLI's choices and
    the dashboard read these rows; adding a format is a row and its converter.

    Returns:
        The rows in order: ``name``, ``file``, ``device``, ``runtime`` (what checks it),
        ``agreement_floor`` and the other floors, ``options``, ``default`` (made when no format
        is named) and a note.

    Examples:
        >>> import kerasmodels as km
        >>> [(f.name, f.runtime) for f in km.export_formats() if f.default][:3]
        [('tflite-float32', 'litert'), ('tflite-float16', 'litert'), ('tflite-dynamic', 'litert')]
    """
    return list(FORMATS)


def format_names(**selected: Any) -> list[str]:
    """Names of the rows whose flags match ``selected`` (``format_names(sweep=True)``)."""
    return [f.name for f in FORMATS if all(getattr(f, k) == v for k, v in selected.items())]


def default_formats(kind: str | None) -> list[str]:
    """What ``km.export`` makes when no format is named, for a run whose dataset's
    preprocessing is of ``kind``: the default rows, with those made for that kind only."""
    return [f.name for f in FORMATS if f.default and f.for_kind in ("", kind)]


def get_format(name: str) -> ExportFormat:
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise UnknownNameError("export format", name, format_names())


def resolve(reference: str):
    """The object a ``"module:attribute"`` reference names."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def format_of_path(path: str | Path) -> ExportFormat | None:
    """The row whose files look like ``path`` (its suffix, or its folder's marker file)."""
    path = Path(path)
    for fmt in FORMATS:
        if fmt.is_folder:
            if path.is_dir() and ((path / fmt.marker).is_file() or any(
                    (child / fmt.marker).is_file() for child in path.iterdir()
                    if child.name.isdigit())):
                return fmt
        elif path.suffix and path.suffix == Path(fmt.file).suffix:
            return fmt
    return None


def options_for(fmt: ExportFormat, given: dict[str, Any]) -> dict[str, Any]:
    """What ``fmt``'s converter is called with: the options it takes, given or default (the
    metadata options reach it inside the model's ``info``, not one by one)."""
    return {name: given.get(name, OPTIONS[name].default) for name in fmt.options
            if name not in METADATA_OPTIONS}


def check_options(formats: list[ExportFormat], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` checked: every option is known, valid, and taken by one of ``formats``."""
    for name, value in given.items():
        if name not in OPTIONS:
            raise UnknownNameError("export option", name, list(OPTIONS))
        OPTIONS[name].check(value)
        takers = [f.name for f in FORMATS if name in f.options]
        if not any(name in f.options for f in formats):
            raise HyperparameterError(
                f"{name} is not an option of {', '.join(f.name for f in formats)}: it applies to "
                f"{', '.join(takers)}; leave it out or export one of those")
    return given


__all__ = ["FORMATS", "OPTIONS", "ExportFormat", "check_options", "default_formats",
           "export_formats",
           "format_names", "format_of_path", "get_format", "options_for", "resolve"]
