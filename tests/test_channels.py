"""Channel pruning rebuilds a narrower model with the same graph and the surviving weights."""

from __future__ import annotations

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.backend import keras
from kerasmodels.compression.channels import multiply_adds, prune_channels
from kerasmodels.errors import HyperparameterError


def residual_model():
    """Conv -> BN -> ReLU, a residual block whose Add ties two convolutions' channels, a
    depthwise convolution, a Concatenate, then the classifier."""
    inputs = keras.Input((8, 8, 1))
    stem = keras.layers.Conv2D(16, 3, padding="same", name="stem")(inputs)
    stem = keras.layers.BatchNormalization(name="stem_bn")(stem)
    stem = keras.layers.ReLU(name="stem_relu")(stem)
    branch = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="branch")(stem)
    joined = keras.layers.Add(name="add")([stem, branch])
    depthwise = keras.layers.DepthwiseConv2D(3, padding="same", name="depthwise")(joined)
    side = keras.layers.Conv2D(8, 1, name="side")(joined)
    both = keras.layers.Concatenate(name="concat")([depthwise, side])
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(both)
    logits = keras.layers.Dense(10, name="logits")(pooled)
    return keras.Model(inputs, keras.layers.Softmax(name="probabilities")(logits))


def channels(report):
    return {r["layer"]: (r["before"], r["after"]) for r in report["layers"]}


def test_the_cnn_and_the_mlp_keep_half_their_channels(cnn_run):
    data = cnn_run.dataset()
    x = data.test[0][:64]
    before = [w.copy() for w in cnn_run.model.get_weights()]
    narrow, report = prune_channels(cnn_run.model, keep=0.5)
    assert channels(report) == {"conv_0": (32, 16), "conv_1": (64, 32), "dense": (128, 64)}
    assert narrow.get_layer("conv_1").kernel.shape == (3, 3, 16, 32)
    assert narrow.get_layer("dense").kernel.shape == (2 * 2 * 32, 64)  # Flatten's positions
    assert narrow.get_layer("logits").kernel.shape == (64, 10)
    assert report["params"] == narrow.count_params() < report["params_before"] / 3
    assert report["multiply_adds"] < report["multiply_adds_before"] / 3
    assert all(np.array_equal(a, b) for a, b in zip(before, cnn_run.model.get_weights(),
                                                    strict=True))  # the parent is untouched
    whole, _ = prune_channels(cnn_run.model, keep=1.0)  # nothing removed: the same function
    np.testing.assert_allclose(whole.predict(x, verbose=0), cnn_run.model.predict(x, verbose=0),
                               atol=1e-6)
    mlp = km.build_model("mlp", data)
    narrow_mlp, report = prune_channels(mlp, keep={"dense_0": 0.25})
    assert channels(report) == {"dense_0": (128, 32), "dense_1": (64, 64)}
    assert narrow_mlp.get_layer("dense_1").kernel.shape == (32, 64)


def test_tied_channels_are_pruned_together_and_the_function_is_kept_where_nothing_goes():
    model = residual_model()
    x = np.random.default_rng(0).normal(size=(16, 8, 8, 1)).astype("float32")
    model(x, training=True)  # BatchNormalization statistics that are not the defaults
    narrow, report = prune_channels(model, keep=0.5)
    assert channels(report) == {"stem": (16, 8), "branch": (16, 8), "side": (8, 4)}
    assert narrow.get_layer("depthwise").depthwise_kernel.shape == (3, 3, 8, 1)
    assert narrow.get_layer("logits").kernel.shape == (12, 10)  # 8 from the add, 4 from side
    assert narrow.get_layer("stem_bn").gamma.shape == (8,)
    whole, _ = prune_channels(model, keep=1.0)
    np.testing.assert_allclose(whole(x).numpy(), model(x).numpy(), atol=1e-6)
    # the survivors carry their weights, and the Add's two sides keep the same channels
    stem, branch = kept(model, narrow, "stem"), kept(model, narrow, "branch")
    assert stem == branch and stem == sorted(stem) and len(set(stem)) == 8
    np.testing.assert_array_equal(narrow.get_layer("branch").kernel.numpy(),
                                  model.get_layer("branch").kernel.numpy()[:, :, stem][..., stem])


def kept(model, narrow, name):
    """The channels of ``model``'s layer ``name`` that ``narrow``'s filters are copies of."""
    old = model.get_layer(name).kernel.numpy()
    new = narrow.get_layer(name).kernel.numpy()
    old, new = old.reshape(-1, old.shape[-1]), new.reshape(-1, new.shape[-1])
    return [next(j for j in range(old.shape[1]) if np.isin(new[:, i], old[:, j]).all())
            for i in range(new.shape[1])]


def test_bad_keep_values_are_clear_errors(cnn_run):
    with pytest.raises(HyperparameterError, match=r"keep must be a fraction in \(0, 1\]"):
        prune_channels(cnn_run.model, keep=0)
    with pytest.raises(HyperparameterError, match="keep names layers the model does not have"):
        prune_channels(cnn_run.model, keep={"conv_9": 0.5})


def test_multiply_adds_of_the_cnn():
    model = km.build_model("cnn", km.load_dataset("digits"))
    conv0 = 8 * 8 * 9 * 1 * 32
    conv1 = 4 * 4 * 9 * 32 * 64
    dense = 2 * 2 * 64 * 128 + 128 * 10
    assert multiply_adds(model) == conv0 + conv1 + dense


def test_the_chains_keep_their_properties(cnn_run):
    """channel_prune+qat: narrow and quantization-aware, exported to int8 within its floor;
    channel_prune+cluster: narrow, with at most ``clusters`` values per kernel."""
    quantized = km.compress(cnn_run, "channel_prune+qat", keep=0.5, epochs=1)
    clustered = km.compress(cnn_run, "channel_prune+cluster", keep=0.5, epochs=1, clusters=8)
    for child in (quantized, clustered):
        report = child.manifest["compression"]
        widths = {r["layer"]: r["after"] for r in report["steps"][0]["layers"]}
        assert widths == {"conv_0": 16, "conv_1": 32, "dense": 64}
        assert report["multiply_adds"] < report["multiply_adds_before"] / 3
        assert report["params"] < report["params_before"] / 3
        assert child.metrics["test"]["accuracy"] >= 0.5
    assert quantized.quantization_aware and not clustered.quantization_aware
    assert quantized.manifest["compression"]["quantize_scheme"] == "default"
    (artifact,) = km.export(quantized, ["tflite-int8"])
    assert artifact.parity["top1_agreement"] >= 0.95
    kernel = clustered.model.get_layer("conv_1").kernel.numpy()
    assert kernel.shape[-1] == 32 and len(np.unique(kernel)) <= 8
