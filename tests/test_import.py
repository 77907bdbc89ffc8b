"""Bring your own model: tf_keras models (objects, .keras, .h5) and SavedModels become runs;
what cannot be imported is one clear error and nothing is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.backend import keras, tf
from kerasmodels.errors import (
    InputShapeError,
    RunError,
    UnsafeModelError,
    UnsupportedLayerError,
)
from tests.conftest import cli


def sequential():
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(32, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")], name="seq")


def functional():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    skip = keras.layers.Conv2D(8, 1)(inputs)
    x = keras.layers.Add()([x, skip])
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.MaxPooling2D()(x))
    return keras.Model(inputs, keras.layers.Dense(10)(x), name="func")  # logits


@pytest.fixture(scope="module")
def digits():
    return km.load_dataset("digits")


@pytest.fixture(scope="module")
def own_models(digits):
    """Both tf_keras models, trained briefly."""
    keras.utils.set_random_seed(0)
    models = {}
    for build, loss in ((sequential, "sparse_categorical_crossentropy"),
                        (functional, keras.losses.SparseCategoricalCrossentropy(from_logits=True))):
        model = build()
        model.compile("adam", loss, metrics=["accuracy"])
        model.fit(*digits.train, epochs=4, verbose=0)
        models[model.name] = model
    return models


@pytest.mark.parametrize("form", ["object", "keras", "h5"])
@pytest.mark.parametrize("which", ["seq", "func"])
def test_tf_keras_models_import_from_objects_and_files(own_models, digits, tmp_path, which, form):
    model = own_models[which]
    source = model
    if form != "object":
        source = tmp_path / f"{which}.{form}"
        model.save(source)
    run = km.import_model(source, "digits", out_dir=tmp_path / "runs", name=f"my-{which}")
    assert run.id.startswith(f"my-{which}-digits-") and run.id.endswith("-import")
    source_record = run.manifest["source"]
    assert source_record["framework"] == "tf_keras" and source_record["version"] == keras.__version__
    assert source_record["kind"] == {"object": "object", "keras": "keras-file", "h5": "h5-file"}[form]
    assert (source_record["sha256"] is None) == (form == "object")
    x = digits.test[0]
    expected = model.predict(x, verbose=0)
    if which == "func":  # logits: the run adds a softmax and says so
        assert source_record["added_softmax"] is True
        expected = tf.nn.softmax(expected).numpy()
    np.testing.assert_allclose(km.load_run(run.path).predict(x), expected, atol=1e-5)
    assert run.metrics["test"]["accuracy"] == pytest.approx(
        float((expected.argmax(-1) == digits.test[1]).mean()), abs=1e-6)
    if form == "object":  # the run owns a copy: the caller's model is not the run's
        assert run.model is not model and run.model.layers[1] is not model.layers[1]


def test_an_imported_run_exports_compresses_and_benchmarks(own_models, tmp_path):
    run = km.import_model(own_models["seq"], "digits", out_dir=tmp_path)
    formats = {a.format for a in km.export(run, ["tflite-float32", "tflite-int8", "onnx"])}
    assert formats == {"tflite-float32", "tflite-int8", "onnx"}
    pruned = km.compress(run, "prune", target_sparsity=0.5, epochs=1)
    assert pruned.manifest["source"]["framework"] == "tf_keras"
    rows = km.benchmark(run, calls=20, export_missing=False, progress=False)
    assert {(row["format"], row["runtime"]) for row in rows if row["run"] == run.id} >= {
        ("tflite-int8", "litert"), ("onnx", "onnxruntime")}
    assert all(row["p50_ms"] > 0 for row in rows)
    assert run.id in {row["run"] for row in km.runs_table(tmp_path)[0]}


def test_arrays_round_trip_through_an_imported_run(own_models, digits, tmp_path):
    ds = km.Dataset.from_arrays(np.concatenate([digits.train[0], digits.test[0]]),
                                np.concatenate([digits.train[1], digits.test[1]]),
                                name="mine")
    run = km.import_model(own_models["seq"], ds, out_dir=tmp_path)
    again = km.load_run(run.path).dataset()
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(again, split)[0], getattr(ds, split)[0])
        np.testing.assert_array_equal(getattr(again, split)[1], getattr(ds, split)[1])
    assert km.export(run, ["tflite-float32"])[0].parity["top1_agreement"] == 1.0


class Linear(tf.Module):
    """A classifier written without Keras: softmax(x W + b), saved with tf.saved_model.save."""

    def __init__(self, weights, bias):
        super().__init__()
        self.w, self.b = tf.Variable(weights), tf.Variable(bias)

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32, name="pixels")])
    def classify(self, pixels):
        return {"scores": tf.reshape(pixels, (-1, 64)) @ self.w + self.b}


@pytest.fixture(scope="module")
def saved_model(digits, tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    x, y = digits.train
    fitted = LogisticRegression(max_iter=500).fit(x.reshape(len(x), -1), y)
    module = Linear(fitted.coef_.T.astype("float32"), fitted.intercept_.astype("float32"))
    folder = tmp_path_factory.mktemp("saved") / "linear"
    tf.saved_model.save(module, str(folder), signatures={"classify": module.classify})
    return folder, fitted


def test_a_saved_model_of_any_signature_imports_exports_and_runs(saved_model, digits, tmp_path):
    folder, fitted = saved_model
    run = km.import_model(folder, "digits", out_dir=tmp_path, signature="classify")
    assert run.is_graph and (run.path / "saved_model" / "saved_model.pb").is_file()
    assert run.manifest["source"]["added_softmax"] is True  # its scores are logits
    x = digits.test[0]
    probabilities = fitted.predict_proba(x.reshape(len(x), -1))
    reopened = km.load_run(run.path)
    np.testing.assert_allclose(reopened.predict(x), probabilities, atol=1e-4)
    assert reopened.metrics["test"]["accuracy"] == pytest.approx(
        fitted.score(x.reshape(len(x), -1), digits.test[1]), abs=1e-6)
    artifacts = {a.format: a for a in km.export(reopened, ["tflite-float32", "onnx"])}
    rows = km.benchmark(reopened, calls=10, export_missing=False, progress=False)
    assert {row["format"] for row in rows} == {"keras", "tflite-float32", "onnx"}
    np.testing.assert_allclose(km.load_predictor(run.path).predict(x[:4]), probabilities[:4],
                               atol=1e-4)
    assert artifacts["onnx"].parity["top1_agreement"] == 1.0
    assert artifacts["tflite-float32"].parity["max_abs_diff"] < 1e-5
    with pytest.raises(RunError, match="imported SavedModel.*prune needs"):
        km.compress(reopened, "prune")
    with pytest.raises(UnsupportedLayerError, match="no signature 'serving_default'.*classify"):
        km.import_model(folder, "digits", out_dir=tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_a_zipped_saved_model_imports_and_an_unsafe_zip_is_refused(saved_model, tmp_path):
    """What a browser uploads: a SavedModel folder in a zip (one top folder inside), unpacked
    as data; a zip whose entry leaves the folder is refused and nothing is written."""
    import shutil
    import zipfile

    folder, _ = saved_model
    archive = Path(shutil.make_archive(str(tmp_path / "linear"), "zip", folder.parent,
                                       folder.name))
    run = km.import_model(archive, "digits", out_dir=tmp_path / "runs", signature="classify")
    assert run.is_graph and run.manifest["source"]["path"] == str(archive)
    assert km.load_run(run.path).metrics["test"]["accuracy"] > 0.9
    unsafe = tmp_path / "unsafe.zip"
    with zipfile.ZipFile(archive) as good, zipfile.ZipFile(unsafe, "w") as bad:
        for info in good.infolist():
            bad.writestr(info, good.read(info))
        bad.writestr("../outside.txt", "escaped")
    with pytest.raises(UnsafeModelError, match="unsafe path '../outside.txt'"):
        km.import_model(unsafe, "digits", out_dir=tmp_path / "other", signature="classify")
    assert not (tmp_path / "other").exists() and not (tmp_path / "outside.txt").exists()


def test_a_dataset_that_does_not_fit_is_one_clear_error(own_models, digits, tmp_path):
    with pytest.raises(InputShapeError, match=r"takes examples of shape \(8, 8, 1\) but "
                                              r"sequences's are \(20, 2\)"):
        km.import_model(own_models["seq"], "sequences", out_dir=tmp_path / "runs")
    x = digits.train[0]
    brightness = km.Dataset.from_arrays(x, x.mean(axis=(1, 2, 3)), name="brightness")
    with pytest.raises(InputShapeError, match="regression with one target: its last layer"):
        km.import_model(own_models["seq"], brightness, out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_labels_that_do_not_match_the_output_width(own_models, tmp_path):
    five = km.load_dataset("digits", classes=[0, 1, 2, 3, 4])
    with pytest.raises(InputShapeError, match=r"outputs of shape \(10,\), but digits has 5 "
                                              r"classes \(0, 1, 2, 3, 4\).*5 units"):
        km.import_model(own_models["seq"], five, out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_files_that_are_not_models_and_unsafe_ones(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(RunError, match="neither a .keras archive, an HDF5"):
        km.import_model(tmp_path / "notes.txt", "digits", out_dir=tmp_path / "runs")
    with pytest.raises(RunError, match="does not exist"):
        km.import_model(tmp_path / "missing.keras", "digits", out_dir=tmp_path / "runs")
    (tmp_path / "folder").mkdir()
    with pytest.raises(RunError, match="folder without saved_model.pb"):
        km.import_model(tmp_path / "folder", "digits", out_dir=tmp_path / "runs")
    with pytest.raises(km.KerasModelsError, match="name must be 1-64 letters"):
        km.import_model(sequential(), "digits", out_dir=tmp_path / "runs", name="../up")
    with pytest.raises(UnsupportedLayerError, match="cannot import a dict"):
        km.import_model({"not": "a model"}, "digits", out_dir=tmp_path / "runs")
    lambda_model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                     keras.layers.Lambda(lambda t: t * 2, name="double"),
                                     keras.layers.Dense(10, activation="softmax")])
    lambda_model.save(tmp_path / "lambda.h5")  # the legacy format: Lambda code is marshalled
    with pytest.raises(UnsafeModelError, match="Lambda layer 'double'"):
        km.import_model(tmp_path / "lambda.h5", "digits", out_dir=tmp_path / "runs")
    with pytest.raises(UnsafeModelError, match="Lambda layer 'double'"):
        km.import_model(lambda_model, "digits", out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


class Reader(tf.Module):
    """A signature that reads a file of the machine it runs on."""

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
    def serve(self, x):
        secret = tf.strings.length(tf.io.read_file("/etc/hostname"))
        return {"out": tf.zeros((tf.shape(x)[0], 10)) + tf.cast(secret, tf.float32)}


def test_a_saved_model_that_reads_files_is_refused(tmp_path):
    module = Reader()
    tf.saved_model.save(module, str(tmp_path / "reader"), signatures={"serving_default": module.serve})
    with pytest.raises(UnsafeModelError, match="ReadFile"):
        km.import_model(tmp_path / "reader", "digits", out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_the_cli_imports_and_reports_bad_input_in_one_line(own_models, tmp_path):
    own_models["seq"].save(tmp_path / "seq.keras")
    done = cli("import", str(tmp_path / "seq.keras"), "--dataset", "digits", "--name",
                   "cli-seq", "--out-dir", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    assert "saved" in done.stdout and "cli-seq-digits-" in done.stdout
    bad = cli("import", str(tmp_path / "seq.keras"), "--dataset", "sequences",
                  "--out-dir", str(tmp_path / "other"))
    assert bad.returncode == 1 and not (tmp_path / "other").exists()  # the work failed
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "kerasmodels: error: the model takes examples" in lines[0]


def test_any_model_distills_into_a_narrower_copy_or_a_student_of_ones_own(own_models, tmp_path):
    run = km.import_model(own_models["func"], "digits", out_dir=tmp_path)
    narrow = km.compress(run, "distill", epochs=2)
    report = narrow.manifest["compression"]
    assert narrow.arch == "func-w0.5" and report["student_hparams"] == {"width": 0.5}
    widths = {layer.name: layer.filters for layer in narrow.model.layers if hasattr(layer, "filters")}
    assert widths and set(widths.values()) == {4}  # 8 filters each in the teacher
    assert report["student_params"] < report["teacher_params"]
    assert narrow.model.outputs[0].shape[-1] == 10 and "student_alone" in report
    mine = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.AveragePooling2D(4),
                             keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")], name="tiny")
    before = [w.copy() for w in mine.get_weights()]
    taught = km.compress(run, "distill", student=mine, epochs=2)
    assert taught.arch == "tiny" and taught.manifest["compression"]["student_params"] == 50
    assert taught.manifest["compression"]["options"]["student"] == "model tiny"
    for kept, now in zip(before, mine.get_weights(), strict=True):  # the caller's is untouched
        np.testing.assert_array_equal(kept, now)
    with pytest.raises(km.KerasModelsError, match="unknown student architecture 'cnnn'"):
        km.compress(run, "distill", student="cnnn")
    three = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(InputShapeError, match="digits has 10 classes"):
        km.compress(run, "distill", student=three)


def test_csv_and_image_datasets_are_kept_by_content_hash(tmp_path):
    from PIL import Image

    from kerasmodels.errors import DatasetError

    rs = np.random.RandomState(0)
    table = tmp_path / "table.csv"
    rows = rs.rand(60, 3)
    table.write_text("a,b,c,label\n" + "".join(
        f"{a:.4f},{b:.4f},{c:.4f},{int(a > 0.5)}\n" for a, b, c in rows))
    for shade, name in ((40, "dark"), (220, "light")):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(np.full((6, 6), shade + i, "uint8")).save(
                tmp_path / "pics" / name / f"{i}.png")
    cases = [("csv:" + str(table), {"target": "label"}, (3,)),
             ("images:" + str(tmp_path / "pics"), {"image_size": (4, 4), "color": "grayscale"},
              (4, 4, 1))]
    for name, options, shape in cases:
        model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(),
                                  keras.layers.Dense(2, activation="softmax")])
        run = km.import_model(model, name, dataset_options=options, out_dir=tmp_path / "runs")
        recorded = run.manifest["dataset"]["sha256"]
        assert len(recorded) == 64
        assert km.load_run(run.path).dataset().sha256 == recorded  # unchanged: reloads
    table.write_text(table.read_text().replace("label\n", "label\n0.1,0.2,0.3,1\n", 1))
    Image.fromarray(np.zeros((6, 6), "uint8")).save(tmp_path / "pics" / "dark" / "0.png")
    for run in km.list_runs(tmp_path / "runs"):
        with pytest.raises(DatasetError, match="changed since the run was made"):
            run.dataset()


def test_a_model_without_an_input_shape_says_how_to_give_one(tmp_path):
    unbuilt = keras.Sequential([keras.layers.Dense(10, activation="softmax")], name="unbuilt")
    with pytest.raises(InputShapeError, match="unbuilt has no input shape yet: start it with "
                                              r"keras.Input\(shape\)"):
        km.import_model(unbuilt, "digits", out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_a_saved_model_folder_with_a_link_is_refused(saved_model, tmp_path):
    import shutil

    folder, _ = saved_model
    copy = tmp_path / "linked"
    shutil.copytree(folder, copy)
    (copy / "assets").mkdir(exist_ok=True)
    (copy / "assets" / "secret").symlink_to("/etc/hostname")
    with pytest.raises(UnsafeModelError, match=r"holds a link \(assets/secret\)"):
        km.import_model(copy, "digits", out_dir=tmp_path / "runs", signature="classify")
    assert not (tmp_path / "runs").exists()
