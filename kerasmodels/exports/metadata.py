"""TFLite model metadata, the format Android's Task Library, ML Model Binding and MediaPipe read.

The metadata is a ``ModelMetadata`` flatbuffer (``metadata_schema.fbs``, identifier ``M001``)
stored in a buffer of the model that the model's ``metadata`` list names ``TFLITE_METADATA``;
its associated files (the label file) are appended to the ``.tflite`` as a zip archive. This is
what tflite-support's ``MetadataPopulator`` writes; tflite-support itself needs protobuf < 4
and cannot share TensorFlow's environment, so the few tables used here are built with the
``flatbuffers`` package (TensorFlow's own dependency) after the official schema, and the model
is edited with TensorFlow's ``flatbuffer_utils``. ``labels.json`` rides along as a model-level
associated file, so a ``.tflite`` alone carries everything ``kerasmodels.edge.EdgeModel``
needs.

>>> from kerasmodels.exports.metadata import model_metadata
>>> info = {"name": "cnn-digits", "description": "a CNN", "version": "1", "author": "me",
...         "task": "classification", "input_shape": [8, 8, 1], "labels": ["0", "1"],
...         "preprocessing": {"kind": "image", "color": "grayscale", "image_size": [8, 8],
...                           "input_range": [0, 16], "scale": 0.0625, "offset": 0.0}}
>>> model_metadata(info)[4:8]
b'M001'
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import flatbuffers

from kerasmodels.layout import LABELS

METADATA_NAME = "TFLITE_METADATA"
FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"  # every field written here is in the schema's first version
AUDIO_PARSER_VERSION = "1.3.0"  # AudioProperties came with the schema's 1.3.0
LABEL_FILE = "labels.txt"  # inside the .tflite, as tflite-support writes it
# enum values and union member indices of metadata_schema.fbs
FILE_UNKNOWN, FILE_TENSOR_AXIS_LABELS = 0, 2
COLOR_RGB, COLOR_GRAYSCALE = 1, 2
CONTENT_FEATURE, CONTENT_IMAGE, CONTENT_AUDIO = 1, 2, 4
PROCESS_NORMALIZATION = 1


def normalization(preprocessing: dict[str, Any]) -> tuple[list[float], list[float]] | None:
    """``(mean, std)`` such that model input = (raw - mean) / std, raw as a device has it: 0-255
    pixels for images (what a camera or a bitmap gives), feature values for tabular rows."""
    kind = preprocessing.get("kind")
    if kind == "image" and "scale" in preprocessing:
        low, high = preprocessing.get("input_range", [0, 255])
        # input = (pixel / 255 * (high - low) + low) * scale + offset = pixel * a + b
        a = (high - low) * preprocessing["scale"] / 255.0
        b = low * preprocessing["scale"] + preprocessing.get("offset", 0.0)
        return [-b / a + 0.0], [1.0 / a]  # + 0.0: no -0.0 in the file
    if kind == "tabular" and "mean" in preprocessing:
        return [float(v) for v in preprocessing["mean"]], [float(v) for v in preprocessing["std"]]
    return None


class _Writer:
    """The flatbuffers builder with the three shapes the schema uses: strings, vectors, tables."""

    def __init__(self):
        self.builder = flatbuffers.Builder(1024)

    def string(self, text: str | None) -> int | None:
        return None if text is None else self.builder.CreateString(text)

    def offsets(self, items: list[int]) -> int:
        b = self.builder
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return b.EndVector()

    def floats(self, values: list[float]) -> int:
        b = self.builder
        b.StartVector(4, len(values), 4)
        for value in reversed(values):
            b.PrependFloat32(float(value))
        return b.EndVector()

    def table(self, slots: int, offsets: dict[int, int | None] | None = None,
              scalars: dict[int, tuple[str, int]] | None = None) -> int:
        """A table of ``slots`` fields: ``offsets`` {slot: child}, ``scalars`` {slot: (kind, v)}."""
        b = self.builder
        b.StartObject(slots)
        for slot, (kind, value) in (scalars or {}).items():
            getattr(b, f"Prepend{kind}Slot")(slot, value, 0)
        for slot, child in (offsets or {}).items():
            if child is not None:
                b.PrependUOffsetTRelativeSlot(slot, child, 0)
        return b.EndObject()

    # the schema's tables, slot numbers as in metadata_schema.fbs (a union takes two slots)
    def associated_file(self, name: str, description: str, kind: int) -> int:
        return self.table(5, {0: self.string(name), 1: self.string(description)},
                          {2: ("Int8", kind)})

    def content(self, image: tuple[int, int, int] | None, sample_rate: int | None = None) -> int:
        if sample_rate is not None:  # one channel of sound
            properties = self.table(2, scalars={0: ("Uint32", sample_rate), 1: ("Uint32", 1)})
            member = CONTENT_AUDIO
        elif image is None:
            properties, member = self.table(0), CONTENT_FEATURE
        else:
            height, width, color = image
            size = self.table(2, scalars={0: ("Uint32", width), 1: ("Uint32", height)})
            properties, member = self.table(2, {1: size}, {0: ("Int8", color)}), CONTENT_IMAGE
        return self.table(3, {1: properties}, {0: ("Uint8", member)})

    def normalization(self, mean: list[float], std: list[float]) -> int:
        options = self.table(2, {0: self.floats(mean), 1: self.floats(std)})
        return self.table(2, {1: options}, {0: ("Uint8", PROCESS_NORMALIZATION)})

    def tensor(self, name: str, description: str, content: int, process_units: list[int],
               stats: tuple[list[float], list[float]] | None, files: list[int]) -> int:
        stats_table = None
        if stats is not None:
            stats_table = self.table(2, {0: self.floats(stats[1]), 1: self.floats(stats[0])})
        return self.table(7, {0: self.string(name), 1: self.string(description), 3: content,
                              4: self.offsets(process_units) if process_units else None,
                              5: stats_table, 6: self.offsets(files) if files else None})


def model_metadata(info: dict[str, Any]) -> bytes:
    """The ``ModelMetadata`` flatbuffer for a model described by ``info`` (what
    ``kerasmodels.exports.model_info`` returns)."""
    w = _Writer()
    prep = info.get("preprocessing") or {}
    image = None
    if prep.get("kind") == "image":
        height, width = prep.get("image_size", info["input_shape"][:2])
        image = (height, width, COLOR_GRAYSCALE if prep.get("color") == "grayscale" else COLOR_RGB)
    norm = normalization(prep)
    units = [w.normalization(*norm)] if norm else []
    sound = prep.get("sample_rate") if info.get("takes_sound") else None
    raw = (f"{prep.get('clip_ms')} ms of sound, one channel at {sound} Hz, float -1..1" if sound
           else "pixels 0-255, normalized as recorded" if image else "feature values, "
           "standardized as recorded" if norm else "the dataset's input")
    input_tensor = w.tensor("inputs", f"Input: {raw}.", w.content(image, sound), units, None, [])
    classifier = info.get("task") == "classification" and info.get("labels")
    files = [w.associated_file(LABEL_FILE, "Class names, one per line, in output order.",
                               FILE_TENSOR_AXIS_LABELS)] if classifier else []
    output_tensor = w.tensor("outputs", "Class probabilities." if classifier else "Predictions.",
                             w.content(None), [], ([0.0], [1.0]) if classifier else None, files)
    subgraph = w.table(5, {0: w.string(info["name"]), 1: w.string(info["description"]),
                           2: w.offsets([input_tensor]), 3: w.offsets([output_tensor])})
    info_file = w.associated_file(LABELS, "kerasmodels' description of the model: task, "
                                  "input shape, labels, preprocessing.", FILE_UNKNOWN)
    root = w.table(8, {0: w.string(info["name"]), 1: w.string(info["description"]),
                       2: w.string(str(info["version"])), 3: w.offsets([subgraph]),
                       4: w.string(info["author"]), 6: w.offsets([info_file]),
                       7: w.string(AUDIO_PARSER_VERSION if sound else MIN_PARSER_VERSION)})
    w.builder.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(w.builder.Output())


def associated_files(info: dict[str, Any]) -> dict[str, bytes]:
    """The files the metadata names: ``labels.txt`` (classifiers) and ``labels.json``."""
    files = {LABELS: json.dumps({k: v for k, v in info.items()
                                 if k not in ("quantization", "takes_sound")}, indent=1).encode()}
    if info.get("task") == "classification" and info.get("labels"):
        files[LABEL_FILE] = "".join(f"{label}\n" for label in info["labels"]).encode()
    return files


def embed(content: bytes, info: dict[str, Any]) -> bytes:
    """``content`` (a ``.tflite``) with its metadata buffer and associated files."""
    import numpy as np
    from tensorflow.lite.tools import flatbuffer_utils

    from kerasmodels._compat import tflite_schema

    schema = tflite_schema()

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    model.metadata = [m for m in (model.metadata or []) if m.name.decode() != METADATA_NAME]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(model_metadata(info), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata.append(entry)
    packed = io.BytesIO(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    with zipfile.ZipFile(packed, "a", zipfile.ZIP_STORED) as archive:  # appended, as tflite-support
        for name, data in associated_files(info).items():
            archive.writestr(name, data)
    return packed.getvalue()


__all__ = ["associated_files", "embed", "model_metadata", "normalization"]
