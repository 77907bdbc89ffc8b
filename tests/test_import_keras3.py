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


def test_a_layer_tf_keras_lacks_is_named_with_what_to_do_and_nothing_is_written(tmp_path):
    inputs = keras.Input((8, 8, 1))
    x = layers.UpSampling2D(name="bigger")(inputs)  # tf_keras has it: rebuilt by rule
    x = layers.RMSNormalization(name="rms")(x)  # Keras 3 only, no equivalent
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(x))
    model.save(tmp_path / "rms.keras")
    with pytest.raises(UnsupportedLayerError, match=r"layer 'rms' \(RMSNormalization\) is a "
                       r"Keras 3 layer tf_keras has no equivalent of: replace it, or export "
                       r"it with Keras 3's model.export\(path, format='tf_saved_model'\)"):
        km.import_model(tmp_path / "rms.keras", "digits", out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    # the object itself is yours: it becomes a graph through Keras 3's own SavedModel export
    run = km.import_model(model, "digits", out_dir=tmp_path / "runs")
    assert run.is_graph and "RMSNormalization" in run.manifest["source"]["as_graph"]
    assert km.export(run, ["tflite-float32"])[0].parity["top1_agreement"] == 1.0
    with pytest.raises(RunError, match="imported SavedModel, a graph without Keras layers"):
        km.compress(run, "prune")


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


def test_keras3_only_activations_rebuild_exactly():
    """Every activation tf_keras lacks (or defines otherwise: Keras 3's hard_sigmoid is
    relu6(x + 3) / 6, tf_keras' is 0.2x + 0.5) rebuilds to the same function, inside a layer
    and as a layer of its own."""
    from kerasmodels.backend import keras as tf_keras
    from kerasmodels.imports.keras3 import ACTIVATIONS, rebuild

    x = np.linspace(-6, 6, 8 * 8, dtype="float32").reshape(8, 8)
    assert not np.allclose(keras.activations.hard_sigmoid(x),
                           tf_keras.activations.hard_sigmoid(tf.constant(x)))
    for name in ACTIVATIONS:
        inputs = keras.Input((8,))
        inside = layers.Dense(8, activation=name, name="inside")(inputs)
        alone = layers.Activation(name, name="alone")(inputs)
        model = keras.Model(inputs, layers.Concatenate()([inside, alone]))
        rebuilt = rebuild(model)
        np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0),
                                   atol=2e-6, err_msg=name)


def test_cropping_layer_scale_and_stochastic_depth_rebuild_from_a_file(tmp_path):
    """Cropping2D (tf_keras has it: by rule) and ConvNeXt's LayerScale and StochasticDepth
    (Keras' own application layers: equivalents), from a .keras file checked before opening."""
    from keras.src.applications.convnext import LayerScale, StochasticDepth

    inputs = keras.Input((12, 12, 3))
    x = layers.Cropping2D(((1, 2), (2, 1)))(inputs)
    x = layers.Conv2D(4, 3)(x)
    x = StochasticDepth(0.1)(LayerScale(0.5, 4)(x))
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(
        layers.GlobalAveragePooling2D()(x)))
    model.get_layer(index=3).set_weights([np.array([0.5, -1.0, 2.0, 0.25], "float32")])
    model.save(tmp_path / "bits.keras")
    rs = np.random.RandomState(0)
    data = km.Dataset.from_arrays(rs.rand(60, 12, 12, 3), np.arange(60) % 3, name="bits")
    run = km.import_model(tmp_path / "bits.keras", data, out_dir=tmp_path / "runs")
    assert run.manifest["source"]["max_abs_difference"] < 1e-5
    kinds = [type(layer).__name__ for layer in km.load_run(run.path).model.layers]
    assert "Cropping2D" in kinds and "LayerScale" in kinds


@keras.saving.register_keras_serializable(package="mine")
class Scale3(keras.layers.Layer):
    """A layer of one's own, in Keras 3: one learned scale per channel."""

    def build(self, shape):
        self.scale = self.add_weight(shape=(shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.scale


def _tf_keras_scale():
    from kerasmodels.backend import keras as tf_keras

    @tf_keras.saving.register_keras_serializable(package="mine")
    class Scale2(tf_keras.layers.Layer):
        """Its tf_keras twin, which its owner vouches for."""

        def build(self, shape):
            self.scale = self.add_weight(name="scale", shape=(shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.scale

    return Scale2


def test_a_custom_layer_is_rebuilt_only_when_you_vouch_for_it(tmp_path):
    inputs = keras.Input((8, 8, 1))
    x = Scale3(name="mine")(layers.Flatten()(inputs))
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(x))
    model.get_layer("mine").set_weights([np.linspace(0.5, 1.5, 64).astype("float32")])
    model.save(tmp_path / "mine.keras")
    with pytest.raises(UnsafeModelError, match=r"custom class 'mine>Scale3'.*custom_objects="
                                                r"\{'Scale3': <a tf_keras class>\}"):
        km.import_model(tmp_path / "mine.keras", "digits", out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    scale2 = _tf_keras_scale()
    run = km.import_model(tmp_path / "mine.keras", "digits", out_dir=tmp_path / "runs",
                          custom_objects={"Scale3": scale2})
    assert run.manifest["source"]["custom_objects"] == {"Scale2": "mine>Scale2"}
    assert run.manifest["source"]["max_abs_difference"] < 1e-5
    reopened = km.load_run(run.path).model  # Scale2 is registered in this process
    assert type(reopened.get_layer("mine")).__name__ == "Scale2"
    assert km.export(run, ["tflite-float32"])[0].parity["top1_agreement"] == 1.0


def test_a_subclassed_model_becomes_a_graph_run(tmp_path):
    """Keras 3's own SavedModel export, then the graph import: export and benchmark work,
    recipes that change layers are refused by name."""

    class Tiny(keras.Model):
        def __init__(self):
            super().__init__(name="tiny")
            self.flatten, self.head = layers.Flatten(), layers.Dense(10, activation="softmax")

        def call(self, x):
            return self.head(self.flatten(x))

    data = km.load_dataset("digits")
    model = Tiny()
    fitted(model, data, 2)
    run = km.import_model(model, data, out_dir=tmp_path)
    assert run.is_graph and "subclassed" in run.manifest["source"]["as_graph"]
    assert run.metrics["test"]["accuracy"] > 0.5
    (artifact,) = km.export(run, ["tflite-int8"])
    assert artifact.parity["top1_agreement"] >= 0.95
    with pytest.raises(RunError, match="imported SavedModel, a graph without Keras layers"):
        km.compress(run, "qat")


def test_a_collapsed_model_is_explained_at_import_and_at_export(tmp_path, caplog):
    """A classifier that predicts one class for every example (its outputs nearly equal):
    the import warns, and int8 that "disagrees" says the model is the cause."""
    inputs = keras.Input((8, 8, 1))
    head = layers.Dense(10, activation="softmax", name="head")
    model = keras.Model(inputs, head(layers.Flatten()(inputs)))
    rs = np.random.RandomState(0)
    bias = np.zeros(10, "float32")
    bias[3] = 1e-3  # class 3 by a margin far below int8's resolution
    head.set_weights([rs.normal(0, 1e-6, (64, 10)).astype("float32"), bias])
    with caplog.at_level("WARNING", logger="kerasmodels"):
        run = km.import_model(model, "digits", out_dir=tmp_path)
    assert "predicts '3' for 100% of digits's validation split" in caplog.text
    assert "collapsed" in run.manifest["source"]["collapsed"]
    from kerasmodels.errors import ParityError

    with pytest.raises(ParityError, match=r"below its floor.*the model itself predicts '3' for "
                                          r"100% of the test split \(accuracy 0\.\d+\): it has "
                                          r"collapsed to one class.*BatchNormalization"):
        km.export(run, ["tflite-int8"])


# one family per kind of layer the rebuild needs beyond the plain ones: inverted residuals
# (MobileNetV2), swish and in-model Rescaling/Normalization (EfficientNetB0), gelu and
# LayerScale (ConvNeXtTiny); MobileNetV3Small (hard_silu, keras.ops nodes) is the zoo bench's
# quick run, and every family, trained and exported, is in bench-results/zoo.json
CATALOGUE = ("MobileNetV2", "EfficientNetB0", "ConvNeXtTiny")


@pytest.mark.slow
@pytest.mark.parametrize("name", CATALOGUE)
def test_the_keras_applications_catalogue_rebuilds_exactly(name):
    """Each family of keras.applications (random weights, a small input) rebuilt as tf_keras
    computes what Keras 3 computes. Training, export and int8 agreement: scripts/bench_zoo.py
    (its quick run in tests/test_scripts.py, its full run in bench-results/zoo.json)."""
    from kerasmodels.imports.keras3 import rebuild

    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3),
                                              classes=10)
    x = np.random.RandomState(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    got = rebuild(model).predict(x, verbose=0)
    np.testing.assert_allclose(got, expected, atol=1e-4 * max(1.0, float(np.abs(expected).max())))
