"""The tflite-micro export: full int8 for TensorFlow Lite for Microcontrollers, run by TFLM's
own interpreter (the tflite-micro package), with a measured arena and firmware sources."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.backend import keras
from kerasmodels.errors import ExportError, ModelFileError
from kerasmodels.exports import micro
from kerasmodels.runtime import micro as tflm
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    return km.train("mlp", "digits", epochs=3, verbose=0, out_dir=tmp_path_factory.mktemp("mlp"))


def exported(run, tmp_path):
    copy = tmp_path / run.id
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("exports"))
    (artifact,) = km.export(copy, ["tflite-micro"])
    return km.load_run(copy), artifact


@pytest.mark.parametrize("which", ["cnn", "mlp"])
def test_a_model_exports_for_a_microcontroller_with_a_measured_arena(which, cnn_run, mlp_run,
                                                                    tmp_path):
    run, artifact = exported(cnn_run if which == "cnn" else mlp_run, tmp_path)
    folder = artifact.path
    assert {p.name for p in folder.iterdir()} == {"model.tflite", "model_data.cc", "model_data.h"}
    content = (folder / "model.tflite").read_bytes()
    device = artifact.device
    assert device["flash_bytes"] == len(content)
    assert device["litert_agreement"] >= 0.99  # TFLM's reference kernels against LiteRT
    assert artifact.parity["top1_agreement"] >= 0.95  # and the whole thing against Keras
    arena = device["arena_bytes"]
    assert arena % 16 == 0
    np.save(tmp_path / "x.npy", tflm.quantize(
        run.dataset().test[0][:1], tflm.interpreter(content, arena).get_input_details(0)))
    for size, works in ((arena, True), (arena - 16, False)):  # the smallest arena that runs it
        code = ("import numpy as np\n"
                "from tflite_micro import runtime\n"
                f"it = runtime.Interpreter.from_bytes(open({str(folder / 'model.tflite')!r}, "
                f"'rb').read(), arena_size={size})\n"
                f"it.set_input(np.load({str(tmp_path / 'x.npy')!r}), 0)\n"
                "it.invoke()\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)  # a fresh process: TFLM's own state, nothing else
        assert (done.returncode == 0) == works, (size, done.stderr[-500:])
    header = (folder / "model_data.h").read_text()
    assert f"constexpr int kTensorArenaSize = {arena};" in header
    calls = re.findall(r"resolver\.(Add\w+)\(\)", header)
    assert calls == [micro.resolver_call(op) for op in device["ops"]]
    assert ("AddConv2D" in calls) == (which == "cnn") and "AddFullyConnected" in calls
    source = (folder / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char g_model[]" in source
    values = re.findall(r"0x([0-9a-f]{2})", source)
    assert bytes(int(v, 16) for v in values) == content
    record = json.loads((run.path / "exports" / "exports.json").read_text())
    assert record["artifacts"]["tflite-micro"]["device"]["arena_bytes"] == arena
    if which == "mlp":  # the benchmark's flash and RAM columns: the file and the arena
        rows = km.benchmark(run, calls=5, export_missing=False, progress=False)
        (row,) = [r for r in rows if r["format"] == "tflite-micro"]
        assert (row["flash_bytes"], row["ram_bytes"]) == (len(content), arena)


def test_the_distilled_student_fits_and_runs(cnn_run, tmp_path):
    student = km.compress(cnn_run, "distill", epochs=2)
    _, artifact = exported(student, tmp_path)
    assert artifact.device["flash_bytes"] < 64_000 and artifact.device["litert_agreement"] >= 0.99
    predictor = km.load_predictor(artifact.path)
    assert predictor.name == "tflm"
    x = student.dataset().test[0][:5]
    assert predictor.predict(x).shape == (5, 10)


def test_an_op_tflm_lacks_is_named_and_the_other_formats_still_export(tmp_path):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(16, activation="gelu")(x)  # TFLite's GELU op: TFLM has no kernel
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    run = km.import_model(model, "digits", out_dir=tmp_path)
    with pytest.raises(ExportError, match="tflite-micro cannot hold this model: TFLM has no "
                                          "kernel for GELU"):
        km.export(run, ["tflite-micro"])
    formats = {a.format for a in km.export(run, ["tflite-micro", "tflite-float32"])}
    assert formats == {"tflite-float32"}
    record = json.loads((run.path / "exports" / "exports.json").read_text())
    assert "GELU" in record["unsupported"]["tflite-micro"]


def test_resolver_calls_follow_tflm_names():
    assert micro.resolver_call("CONV_2D") == "AddConv2D"
    assert micro.resolver_call("DEPTHWISE_CONV_2D") == "AddDepthwiseConv2D"
    assert micro.resolver_call("FULLY_CONNECTED") == "AddFullyConnected"
    assert micro.resolver_call("UNIDIRECTIONAL_SEQUENCE_LSTM") == "AddUnidirectionalSequenceLSTM"
    assert np.array_equal(tflm.quantize(np.array([0.0, 1.0]), {
        "dtype": np.int8, "quantization_parameters": {"scales": [0.5], "zero_points": [-1]}}),
        np.array([-1, 1], np.int8))


@pytest.fixture(scope="module")
def clustered_exports(cnn_run, tmp_path_factory):
    """The session CNN's tflite-micro export and those of its 16- and 8-cluster children
    (compressed by TFLM's compressor), with the 8-cluster child's plain int8 file beside."""
    root = tmp_path_factory.mktemp("clustered")
    parent, parent_artifact = exported(cnn_run, root)
    made = {"parent": parent_artifact}
    for clusters in (16, 8):
        child = km.compress(parent, "cluster", clusters=clusters, epochs=1)
        (made[clusters],) = km.export(child, ["tflite-micro"])
    plain = root / "plain"
    shutil.copytree(child.path, plain / child.id, ignore=shutil.ignore_patterns("exports"))
    (made["plain"],) = km.export(plain / child.id, ["tflite-micro"], compress_weights=False)
    return made


def test_clustered_children_take_less_flash_once_tflm_compresses_them(clustered_exports):
    parent = clustered_exports["parent"].device["flash_bytes"]
    for clusters, ceiling, bits in ((16, 0.75, 4), (8, 0.6, 3)):
        device = clustered_exports[clusters].device
        report = device["compression"]
        assert report["flash_bytes_before"] == parent  # clustering alone saves no flash
        assert device["flash_bytes"] <= ceiling * parent, (clusters, device["flash_bytes"])
        assert {t["bits"] for t in report["tensors"]} == {bits}
        assert {t["op"] for t in report["tensors"]} == {"CONV_2D", "FULLY_CONNECTED"}
        assert report["checked_examples"] > 0
        # the decoded weights live in the arena: more RAM, measured
        assert device["arena_bytes"] > device["arena_bytes_uncompressed"]
        assert "TFLM_DECODE" in device["ops"]
        header = (clustered_exports[clusters].path / "model_data.h").read_text()
        assert "resolver.AddDecode()" in header
        assert report["unavailable"]["pruning"].startswith("Pruning compression not yet")
    plain = clustered_exports["plain"].device
    assert "compression" not in plain and "TFLM_DECODE" not in plain["ops"]
    assert plain["flash_bytes"] == parent
    # a phone's runtime cannot decode: LiteRT (and EdgeModel) say so, naming what runs it
    with pytest.raises(ModelFileError, match="is compressed for TensorFlow Lite Micro .* run "
                                             "its folder with TFLM"):
        km.EdgeModel(clustered_exports[8].path / "model.tflite")
    assert km.EdgeModel(clustered_exports["plain"].path / "model.tflite").predict(
        np.zeros((1, 8, 8, 1), "float32")).shape == (1, 10)


def test_compressed_and_plain_files_give_tflm_the_same_outputs_bit_for_bit(clustered_exports,
                                                                         cnn_run, tmp_path):
    """In a new process: TFLM's raw int8 outputs of the compressed 8-cluster file and of the
    same child exported without compression, on the whole test split."""
    x = cnn_run.dataset().test[0]
    np.save(tmp_path / "x.npy", x)
    code = ("import sys, numpy as np\n"
            "from kerasmodels.runtime.micro import MicroModel, quantize\n"
            "outs = []\n"
            "for folder in sys.argv[2:]:\n"
            "    micro = MicroModel(folder).interpreter\n"
            "    rows = quantize(np.load(sys.argv[1]), micro.get_input_details(0))\n"
            "    got = []\n"
            "    for row in rows:\n"
            "        micro.set_input(row[None], 0); micro.invoke()\n"
            "        got.append(micro.get_output(0).copy())\n"
            "    outs.append(np.concatenate(got))\n"
            "assert outs[0].dtype == np.int8 and outs[0].shape == (len(outs[0]), 10)\n"
            "print(int(np.array_equal(outs[0], outs[1])), len(outs[0]))\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.npy"),
                           str(clustered_exports[8].path),
                           str(clustered_exports["plain"].path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.split() == ["1", str(len(x))]
    assert clustered_exports[8].device["compression"]["checked_examples"] == len(x)


def test_a_tensor_an_op_needs_constant_is_left_uncompressed_and_named(tmp_path):
    """A ZeroPadding2D the converter cannot fold into a convolution becomes PAD, whose
    paddings TFLM reads while preparing: compressing them (two values) would make the model
    fail to prepare, so they stay and are named."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.ZeroPadding2D(((1, 0), (0, 1)))(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(*km.load_dataset("digits").train, epochs=2, verbose=0)
    run = km.import_model(model, "digits", out_dir=tmp_path)
    child = km.compress(run, "cluster", clusters=8, epochs=1)
    (artifact,) = km.export(child, ["tflite-micro"])
    report = artifact.device["compression"]
    (pad,) = [entry for entry in report["left"] if entry["op"] == "PAD"]
    assert "PAD rejects a non-constant 'paddings'" in pad["reason"]
    assert {t["op"] for t in report["tensors"]} == {"FULLY_CONNECTED"}
    assert artifact.device["flash_bytes"] < report["flash_bytes_before"]


def test_a_micro_sweep_ranks_on_flash_and_arena_and_names_the_boards_that_fit(cnn_run, tmp_path):
    """The console script, in its own process: the parent and a 16-cluster child for TFLM. The child
    takes less flash but decodes its weights into the arena, so the smallest board class
    (32 KB of RAM) only fits the parent: asked for that board, the sweep picks the parent."""
    from kerasmodels.boards import fitting

    copy = tmp_path / cnn_run.id
    shutil.copytree(cnn_run.path, copy, ignore=shutil.ignore_patterns("exports", "sweep.json"))
    done = run_cli("sweep", str(copy), "--target", "micro", "--board", "32k-ram-128k-flash",
                   "--recipe", "cluster", "--budget", "0.05", "--calls", "5", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((copy / "sweep.json").read_text())
    assert json.loads(done.stdout)["pick"] == result["pick"]  # what it printed is what it kept
    assert result["target"] == "micro" and result["board"] == "32k-ram-128k-flash"
    rows = {row["recipe"]: row for row in result["rows"]}
    parent, child = rows["none"], rows["cluster"]
    for row in (parent, child):
        assert row["format"] == "tflite-micro" and row["status"] == "ok"
        assert row["boards"] == fitting(row["flash_bytes"], row["arena_bytes"])
        assert row["p50_ms"] > 0 and 0 < row["val_score"] <= 1
    assert child["flash_bytes"] < 0.75 * child["flash_bytes_uncompressed"]
    assert child["arena_bytes"] > 32 * 1024 >= parent["arena_bytes"]
    assert "32k-ram-128k-flash" not in child["boards"]
    assert result["pick"]["recipe"] == "none"
    # no board named: the smallest flash within the budget, from the same rows
    from kerasmodels.compression.sweep import choose

    assert choose([parent, child], max(0.05, -child["val_diff_low"]),
                  "flash_bytes")["recipe"] == "cluster"


def test_micro_sweep_options_are_checked_before_any_work(cnn_run):
    from kerasmodels.errors import HyperparameterError, UnknownNameError

    with pytest.raises(UnknownNameError, match="unknown board class 'esp8266'"):
        km.sweep(cnn_run, target="micro", board="esp8266")
    with pytest.raises(HyperparameterError, match="board is a micro sweep's option"):
        km.sweep(cnn_run, board="32k-ram-128k-flash")
    with pytest.raises(UnknownNameError, match="unknown sweep target 'watch'"):
        km.sweep(cnn_run, target="watch")
    with pytest.raises(HyperparameterError, match="a micro sweep times every artifact in tflm: "
                                                  "tflite-int8 is run by litert"):
        km.sweep(cnn_run, target="micro", formats=["tflite-int8"])
