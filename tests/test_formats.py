"""One format table drives every consumer; phones get standard metadata; one input contract."""

from __future__ import annotations

import ast
import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels import formats
from kerasmodels.dashboard import APP
from kerasmodels.errors import HyperparameterError, UnknownNameError
from kerasmodels.runtime import load_predictor
from tests.conftest import ROOT, cli

READER = ROOT / ".venv-readers" / "bin" / "python"
# tflite-support's own reader (what Android's Task Library and ML Model Binding are built on),
# run in its environment: it needs protobuf < 4, TensorFlow's environment cannot have it
READ_METADATA = """
import json, sys
from tflite_support import metadata
displayer = metadata.MetadataDisplayer.with_model_file(sys.argv[1])
files = {name: displayer.get_associated_file_buffer(name).decode()
         for name in displayer.get_packed_associated_file_list()}
print(json.dumps({"metadata": json.loads(displayer.get_metadata_json()), "files": files}))
"""


def read_with_tflite_support(path: Path) -> dict:
    assert READER.is_file(), "scripts/setup.sh installs tflite-support into .venv-readers"
    result = subprocess.run([str(READER), "-c", READ_METADATA, str(path)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def copy_of(run, tmp_path: Path) -> Path:
    """The run without its exports, in a runs folder of its own."""
    copy = tmp_path / "runs" / run.id
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("exports", "benchmark.*",
                                                                  "sweep.json"))
    return copy


def write_dummy(model, target, *, fmt, data, info) -> dict:
    """The converter of the test's extra row: a float32 TFLite under another name."""
    from kerasmodels.exports.tflite import convert

    target.write_bytes(convert(model, "tflite-float32"))
    return {}


def test_a_new_row_reaches_every_consumer(cnn_run, tmp_path, monkeypatch):
    """Adding a format is one row and one converter: export, the CLI's choices and help,
    load_predictor, the benchmark, load_variants, the sweep and the dashboard all offer it."""
    dummy = formats.ExportFormat(
        "dummy", "model.dummy", converter="tests.test_formats:write_dummy",
        loader="kerasmodels.runtime.litert:LiteRTModel", runtime="litert", device="test bench",
        lossless=True, agreement_floor=0.999, difference_ceiling=1e-4, auc_drop_ceiling=0.001,
        quick=True, sweep=True, threads=True)
    table = [dataclasses.replace(f, sweep=False, default=False, quick=False)
             for f in formats.FORMATS]
    monkeypatch.setattr(formats, "FORMATS", [*table, dummy])
    copy = copy_of(cnn_run, tmp_path)

    assert "dummy: test bench" in " ".join(cli("export", "--help").stdout.split())
    result = cli("export", str(copy))  # the default set is the table's default rows: dummy
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (copy / "exports").iterdir()) == [
        "exports.json", "labels.json", "model.dummy"]
    predictor = load_predictor(copy / "exports" / "model.dummy", num_threads=1)
    assert predictor.name == "litert" and predictor.num_threads == 1

    rows = km.benchmark(copy, calls=5, export_missing=False, progress=False)
    assert {(r["format"], r["runtime"], r["threads"]) for r in rows} >= {("dummy", "litert", 1)}
    assert "dummy" in {v.format for v in km.load_variants(copy)}
    swept = km.sweep(copy, recipes=[], calls=5, progress=False)
    assert [(r["format"], r["x_smaller"]) for r in swept["rows"]] == [("dummy", 1.0)]

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("KERASMODELS_RUNS_DIR", str(copy.parent))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("views/compress.py").run()
    assert not at.exception, [e.value for e in at.exception]
    choices = at.multiselect[1]
    assert "dummy (test bench)" in choices.options and choices.value == ["dummy"]


def test_no_consumer_names_a_format():
    """Outside the table and the converters, no code holds a format's name or file name (the
    run folder of an imported SavedModel is also called saved_model: another thing)."""
    names = {f.name for f in formats.FORMATS} | {f.file for f in formats.FORMATS}
    names.discard("saved_model")
    found = []
    files = list((ROOT / "kerasmodels").rglob("*.py"))
    for path in files:
        if path.name == "formats.py" or path.parent.name == "exports":
            continue
        tree = ast.parse(path.read_text())
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
                  for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and node.value in names]
    assert not found, found


def test_export_options_go_only_where_they_are_taken(cnn_run, cnn_exports):
    with pytest.raises(HyperparameterError, match="opset is not an option of tflite-int8: it "
                                                  "applies to onnx"):
        km.export(cnn_run, ["tflite-int8"], opset=15)
    with pytest.raises(HyperparameterError, match="io_type is not an option of onnx"):
        km.export(cnn_run, ["onnx"], io_type="float")
    with pytest.raises(UnknownNameError, match="unknown io type 'int4': did you mean 'int8'"):
        km.export(cnn_run, ["tflite-int8"], io_type="int4")
    with pytest.raises(UnknownNameError, match="unknown export option 'quality'"):
        km.export(cnn_run, ["onnx"], quality=3)
    with pytest.raises(HyperparameterError, match="opset must be an integer from 13 to 18"):
        km.export(cnn_run, ["onnx"], opset=99)
    bad = cli("export", str(cnn_run.path), "--formats", "tflite-float16", "--io-type", "float")
    assert bad.returncode == 2 and "io_type is not an option of tflite-float16" in bad.stderr
    bad = cli("export", str(cnn_run.path), "--formats", "onnx", "--no-compress-weights")
    assert bad.returncode == 2 and "compress_weights is not an option of onnx: it applies to " \
                                   "tflite-micro" in bad.stderr
    table = km.export_formats()
    assert {f.name for f in table} >= {"tflite-int8", "tflite-micro", "onnx", "saved_model"}
    slow = formats.get_format("tflite-int16x8")
    assert not slow.default and "no fast kernel" in slow.note


@pytest.fixture(scope="module")
def phone_exports(cnn_run, tmp_path_factory):
    copy = copy_of(cnn_run, tmp_path_factory.mktemp("phone"))
    artifacts = km.export(copy, ["tflite-float32", "tflite-int8", "onnx"], author="Ada",
                          version="2.1", description="digits, for the phone")
    return km.load_run(copy), {a.format: a.path for a in artifacts}


def test_tflite_metadata_is_read_back_by_tflite_support(phone_exports):
    run, paths = phone_exports
    labels = run.manifest["dataset"]["labels"]
    for fmt in ("tflite-float32", "tflite-int8"):
        read = read_with_tflite_support(paths[fmt])
        meta = read["metadata"]
        assert (meta["name"], meta["author"], meta["version"]) == (run.id, "Ada", "2.1")
        assert meta["description"] == "digits, for the phone"
        (subgraph,) = meta["subgraph_metadata"]
        (inputs,), (outputs,) = subgraph["input_tensor_metadata"], subgraph["output_tensor_metadata"]
        image = inputs["content"]["content_properties"]
        assert image["color_space"] == "GRAYSCALE" and image["default_size"] == {"width": 8,
                                                                                  "height": 8}
        norm = inputs["process_units"][0]["options"]
        # a device's 0-255 pixels, normalized by the metadata, are what the model was fed
        x = run.dataset().test[0][:20]
        pixels = x * 255.0  # digits: model input = pixel16 / 16 = pixel255 / 255
        np.testing.assert_allclose((pixels - norm["mean"][0]) / norm["std"][0], x, atol=1e-6)
        (label_file,) = outputs["associated_files"]
        assert (label_file["name"], label_file["type"]) == ("labels.txt", "TENSOR_AXIS_LABELS")
        assert read["files"]["labels.txt"].splitlines() == labels
        embedded = json.loads(read["files"]["labels.json"])
        assert embedded["preprocessing"] == run.manifest["dataset"]["preprocessing"]
        assert embedded["input_shape"] == [8, 8, 1]


def test_onnx_metadata_props_and_output_names_agree(phone_exports):
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    run, paths = phone_exports
    session = ort.InferenceSession(str(paths["onnx"]), providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    assert (props["name"], props["author"], props["version"]) == (run.id, "Ada", "2.1")
    assert json.loads(props["labels"]) == run.manifest["dataset"]["labels"]
    assert json.loads(props["preprocessing"]) == run.manifest["dataset"]["preprocessing"]
    assert [o.name for o in session.get_outputs()] == ["outputs"]
    assert [i.name for i in session.get_inputs()] == ["inputs"]
    signature = Interpreter(str(paths["tflite-float32"])).get_signature_list()["serving_default"]
    assert signature == {"inputs": ["inputs"], "outputs": ["outputs"]}


def test_edge_model_works_from_the_tflite_alone(phone_exports, tmp_path):
    run, paths = phone_exports
    alone = tmp_path / "digits.tflite"
    shutil.copy(paths["tflite-int8"], alone)  # no labels.json beside it
    model = km.EdgeModel(alone)
    assert model.labels == run.manifest["dataset"]["labels"]
    x, y = run.dataset().test
    raw = np.round(x[..., 0] * 16)  # (n, 8, 8) pixels 0..16, as the digits dataset holds them
    labels = model.classify(raw)
    assert [int(label) for label in labels] == list(model.predict(x).argmax(-1))
    assert np.mean(np.array(labels, int) == y) >= 0.5


def test_raw_csv_rows_are_standardized_as_the_training_data(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.normal(50, 10, size=(240, 3))
    label = (features[:, 0] + features[:, 1] > 100).astype(int)
    lines = ["a,b,c,label"] + [f"{a:.3f},{b:.3f},{c:.3f},{t}"
                               for (a, b, c), t in zip(features, label, strict=True)]
    (tmp_path / "table.csv").write_text("\n".join(lines) + "\n")
    run = km.train("mlp", f"csv:{tmp_path / 'table.csv'}", epochs=1, out_dir=tmp_path / "runs",
                   dataset_options={"target": "label"}, verbose=0)
    (artifact,) = km.export(run, ["tflite-float32"])
    alone = tmp_path / "table.tflite"
    shutil.copy(artifact.path, alone)
    model = km.EdgeModel(alone)
    data = run.dataset()
    prep = run.manifest["dataset"]["preprocessing"]
    raw = data.test[0] * np.asarray(prep["std"]) + np.asarray(prep["mean"])  # rows as written
    np.testing.assert_allclose(model.predict_raw(raw), model.predict(data.test[0]), atol=1e-5)
    meta = read_with_tflite_support(alone)["metadata"]
    norm = meta["subgraph_metadata"][0]["input_tensor_metadata"][0]["process_units"][0]
    np.testing.assert_allclose(norm["options"]["mean"], prep["mean"], rtol=1e-6)


def test_a_foreign_saved_models_signature_is_read(tmp_path):
    from kerasmodels.backend import tf

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32, name="pixels")])
        def serve(self, pixels):
            return {"scores": pixels * 2.0}

    module = Doubler()
    tf.saved_model.save(module, str(tmp_path / "foreign"),
                        signatures={"serving_default": module.serve})
    predictor = load_predictor(tmp_path / "foreign")
    assert predictor.name == "tensorflow" and predictor.input_spec == ((3,), "float32")
    np.testing.assert_allclose(predictor.predict(np.ones((2, 3), "float32")), np.full((2, 3), 2.0))
