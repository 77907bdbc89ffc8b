"""Keras 3 models of one's own (written here with ``import keras``) become tf_keras runs that
export, prune and train quantization-aware like any other."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.backend import tf  # noqa: F401  (TensorFlow set up by kerasmodels, then Keras 3)
from kerasmodels.errors import InputShapeError, RunError, UnsafeModelError, UnsupportedLayerError

keras = pytest.importorskip("keras")  # Keras 3 comes with TensorFlow: always there
layers = keras.layers
assert keras.__version__.startswith("3."), keras.__version__


def mobilenet_block(input_shape=(8, 8, 1), classes=10, filters=16):
    """Conv, BatchNormalization, ReLU6, a depthwise-separable residual block, pooling, head."""
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(momentum=0.9)(x)  # its stats settle in 8 epochs
    x = layers.ReLU(6.0)(x)
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization(momentum=0.9)(y)
    y = layers.Activation("relu6")(y)
    y = layers.Conv2D(filters, 1)(y)
    x = layers.Add()([x, y])
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.1)(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x), name="mobile")


def lstm_model(shape=(20, 2), classes=2):
    return keras.Sequential([keras.Input(shape), layers.LSTM(16),
                             layers.Dense(classes, activation="softmax")], name="lstm3")


def attention_model(length=32, vocab=64, classes=4, dim=16):
    tokens = keras.Input((length,), dtype="int32")
    x = layers.Embedding(vocab, dim)(tokens)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    x = layers.LayerNormalization()(layers.Add()([x, attended]))
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(tokens, layers.Dense(classes, activation="softmax")(x), name="attention3")


def fitted(model, data, epochs):
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(*data.train, epochs=epochs, batch_size=32, verbose=0)
    return model


CASES = {  # name: (builder, dataset, epochs, how it is handed over)
    "mobilenet": (mobilenet_block, "digits", 8, "file"),
    "lstm": (lstm_model, "sequences", 6, "object"),
    "attention": (attention_model, "text", 6, "file"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def imported(request, tmp_path_factory):
    """Each Keras 3 model trained, then imported (from its .keras file or the object)."""
    build, dataset, epochs, handed = CASES[request.param]
    data = km.load_dataset(dataset)
    original = fitted(build(), data, epochs)
    out = tmp_path_factory.mktemp(f"import-{request.param}")
    source = original
    if handed == "file":
        source = out / f"{request.param}.keras"
        original.save(source)
    return request.param, original, data, km.import_model(source, data, out_dir=out / "runs")


def test_the_rebuild_is_a_tf_keras_model_that_matches_the_original(imported):
    name, original, data, run = imported
    source = run.manifest["source"]
    assert run.manifest["recipe"] == "import" and source["framework"] == "keras3"
    assert source["version"] == keras.__version__
    assert source["max_abs_difference"] <= 1e-4
    assert type(run.model).__module__.startswith("tf_keras")
    assert [layer.name for layer in run.model.layers if layer.weights] == \
        [layer.name for layer in original.layers if layer.weights]
    x = data.test[0][:64]
    np.testing.assert_allclose(run.predict(x), original.predict(x, verbose=0), atol=1e-4)
    accuracy = float((original.predict(data.test[0], verbose=0).argmax(-1) == data.test[1]).mean())
    assert run.metrics["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert accuracy > 0.6, f"{name} trained too little to compare formats: {accuracy:.3f}"
    reopened = km.load_run(run.path)  # from disk, by the safe loader
    np.testing.assert_allclose(reopened.predict(x), run.predict(x), atol=1e-6)


def test_exports_float32_int8_and_onnx_with_parity(imported):
    name, _, data, run = imported
    artifacts = {a.format: a for a in km.export(run, ["tflite-float32", "tflite-int8", "onnx"])}
    assert set(artifacts) == {"tflite-float32", "tflite-int8", "onnx"}
    for fmt in ("tflite-float32", "onnx"):
        assert artifacts[fmt].parity["top1_agreement"] >= 0.999, (name, fmt)
        assert artifacts[fmt].parity["max_abs_diff"] < 1e-4, (name, fmt)
    assert artifacts["tflite-int8"].parity["top1_agreement"] >= 0.95
    from kerasmodels.runtime import load_predictor

    tflite = load_predictor(artifacts["tflite-float32"].path)  # the real interpreter
    np.testing.assert_allclose(tflite.predict(data.test[0][:8]), run.predict(data.test[0][:8]),
                               atol=1e-4)


def test_pruning_and_quantization_aware_training(imported):
    name, _, _, run = imported
    pruned = km.compress(run, "prune", target_sparsity=0.5, epochs=1)
    sparsity = pruned.manifest["compression"]["sparsity"]
    assert sparsity and max(sparsity.values()) >= 0.45, (name, sparsity)
    if name == "lstm":  # the recurrent cell's own kernels, measured from the weights
        cell = pruned.model.get_layer("lstm").cell
        for kernel in (cell.kernel, cell.recurrent_kernel):
            assert float((kernel.numpy() == 0).mean()) == pytest.approx(0.5, abs=0.02)
    assert pruned.parent == run.id and pruned.manifest["source"] == run.manifest["source"]
    qat = km.compress(run, "qat", epochs=1)
    report = qat.manifest["compression"]
    assert report["quantized_layers"], name
    x = km.load_run(run.path).dataset().test[0][:16]
    np.testing.assert_allclose(km.load_run(qat.path).predict(x), qat.predict(x), atol=1e-5)
    if name == "mobilenet":  # every layer quantized: the int8 file is the model QAT trained
        assert report["whole_model"]
        (artifact,) = km.export(qat, ["tflite-int8"])
        assert artifact.parity["top1_agreement"] >= 0.95
    else:  # tfmot has no QAT for LSTM and attention: those layers stay float
        skipped = " ".join(report["skipped_layers"])
        assert ("lstm" if name == "lstm" else "multi_head_attention") in skipped, skipped


def test_a_layer_outside_the_set_is_named_and_nothing_is_written(tmp_path):
    inputs = keras.Input((8, 8, 1))
    x = layers.UpSampling2D(name="bigger")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(x))
    with pytest.raises(UnsupportedLayerError, match=r"UpSampling2D \(layer 'bigger'\)"):
        km.import_model(model, "digits", out_dir=tmp_path / "runs")
    model.save(tmp_path / "up.keras")
    with pytest.raises(UnsupportedLayerError, match="UpSampling2D"):
        km.import_model(tmp_path / "up.keras", "digits", out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_an_option_tf_keras_lacks_is_named():
    inputs = keras.Input((8,))
    model = keras.Model(inputs, layers.Dense(3, lora_rank=2, name="adapted")(inputs))
    from kerasmodels.imports.keras3 import rebuild

    with pytest.raises(UnsupportedLayerError, match="'adapted'.*lora_rank=2"):
        rebuild(model)


def test_a_keras3_file_with_a_lambda_is_refused_unopened(tmp_path):
    inputs = keras.Input((8, 8, 1))
    x = layers.Lambda(lambda t: t * 2, name="double")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, layers.Dense(10)(x)).save(tmp_path / "lambda.keras")
    with pytest.raises(UnsafeModelError, match="Lambda layer 'double'"):
        km.import_model(tmp_path / "lambda.keras", "digits", out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_keras3_nested_models_and_h5_files(tmp_path):
    """A functional model holding a Sequential block, saved as a Keras 3 HDF5 file."""
    block = keras.Sequential([keras.Input((64,)), layers.Dense(32, activation="relu"),
                              layers.Dropout(0.1)], name="block")
    inputs = keras.Input((8, 8, 1))
    x = layers.Flatten()(inputs)
    x = layers.Rescaling(2.0, offset=-1.0)(x)
    x = layers.Concatenate()([block(x), x])
    logits = layers.Dense(10, name="head")(x)  # logits: the import adds a softmax
    model = keras.Model(inputs, logits, name="nested")
    model.save(tmp_path / "nested.h5")
    run = km.import_model(tmp_path / "nested.h5", "digits", out_dir=tmp_path / "runs")
    assert run.manifest["source"]["kind"] == "h5-file"
    assert run.manifest["source"]["added_softmax"] is True
    x = km.load_dataset("digits").test[0][:16]
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(model(x)))
    np.testing.assert_allclose(run.predict(x), expected, atol=1e-5)


def test_keras3_archive_metadata_decides_the_loader(tmp_path):
    """A .keras archive whose metadata says Keras 3 is opened by Keras 3's safe loader."""
    lstm_model().save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert json.loads(archive.read("metadata.json"))["keras_version"].startswith("3.")
    with pytest.raises(InputShapeError, match=r"shape \(20, 2\) but digits's are \(8, 8, 1\)"):
        km.import_model(tmp_path / "m.keras", "digits", out_dir=tmp_path / "runs")
    (tmp_path / "broken.keras").write_bytes((tmp_path / "m.keras").read_bytes()[:300])
    with pytest.raises(RunError, match="neither a .keras archive"):
        km.import_model(tmp_path / "broken.keras", "digits", out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_train_takes_your_own_uncompiled_model(tmp_path):
    model = mobilenet_block(filters=8)
    before = [w.copy() for w in model.get_weights()]
    run = km.train(model, "digits", epochs=2, out_dir=tmp_path, verbose=0)
    assert run.arch == "mobile" and run.manifest["arch"]["family"] == "custom"
    assert run.manifest["source"]["framework"] == "keras3" and run.manifest["recipe"] is None
    assert len(run.history["loss"]) == 2 and run.history["loss"][1] < run.history["loss"][0]
    for kept, now in zip(before, model.get_weights(), strict=True):  # yours is not trained
        np.testing.assert_array_equal(kept, now)
    reopened = km.load_run(run.path)
    x = reopened.dataset().test[0][:8]
    np.testing.assert_allclose(reopened.predict(x), run.predict(x), atol=1e-6)
    from kerasmodels.errors import HyperparameterError

    with pytest.raises(HyperparameterError, match=r"hyperparameters \(filters\) go with an "
                                                  "architecture name"):
        km.train(model, "digits", filters=3, out_dir=tmp_path / "other")
    with pytest.raises(InputShapeError, match="but sequences's are"):
        km.train(model, "sequences", epochs=1, out_dir=tmp_path / "other", verbose=0)
    with pytest.raises(UnsupportedLayerError, match="expected a Sequential or functional Keras "
                                                    "model, got dict"):
        km.train({"layers": []}, "digits", out_dir=tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_every_layer_of_the_set_rebuilds_to_the_same_function():
    """Layers the three models above do not use, in two small graphs, against Keras 3."""
    from kerasmodels.imports.keras3 import rebuild

    rs = np.random.RandomState(0)
    images = keras.Input((12, 12, 3))
    x = layers.ZeroPadding2D(1)(images)
    x = layers.SeparableConv2D(6, 3, activation="silu")(x)
    x = layers.AveragePooling2D(2)(x)
    gate = layers.Conv2D(6, 1, activation="sigmoid")(x)
    x = layers.Multiply()([x, gate])
    x = layers.LeakyReLU(0.1)(layers.MaxPooling2D(2)(x))
    x = layers.Reshape((9, 6))(x)
    x = layers.Conv1D(4, 3, padding="same", activation="gelu")(x)
    x = layers.MaxPooling1D(2)(layers.Concatenate()([x, layers.AveragePooling1D(1)(x)]))
    x = layers.GRU(5, return_sequences=True)(x)
    x = layers.GlobalMaxPooling1D()(x)
    first = keras.Model(images, layers.Softmax()(layers.Dense(3)(x)))

    features = keras.Input((6,))
    normalize = layers.Normalization()
    normalize.adapt(rs.rand(50, 6).astype("float32") * 5)
    y = layers.Rescaling(0.5, offset=0.1)(normalize(features))
    y = layers.Subtract()([layers.Dense(4, activation="tanh")(y), layers.Dense(4)(y)])
    y = layers.Average()([y, layers.Activation("relu")(y)])
    second = keras.Model(features, layers.Dense(2, activation="softmax")(layers.Flatten()(y)))

    for original, x in ((first, rs.rand(16, 12, 12, 3)), (second, rs.rand(16, 6))):
        x = x.astype("float32")
        rebuilt = rebuild(original)
        assert type(rebuilt).__module__.startswith("tf_keras")
        np.testing.assert_allclose(rebuilt.predict(x, verbose=0), original.predict(x, verbose=0),
                                   atol=1e-5)
