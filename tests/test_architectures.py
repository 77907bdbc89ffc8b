import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.architectures.layers import sinusoidal_table
from kerasmodels.errors import HyperparameterError, UnknownNameError

COMPATIBLE = {
    "linear": "regression", "mlp": "digits", "mlp_small": "digits", "cnn": "digits",
    "cnn_small": "digits", "rnn": "sequences", "rnn_small": "text", "transformer": "text",
    "transformer_small": "digits", "ds_cnn": "speech", "mobilenet_v1": "digits",
    "resnet8": "digits", "fc_autoencoder": "machines",
}


def test_cnn_matches_the_chapters_pytorch_parameter_count():
    model = km.build_model("cnn", input_shape=(24, 24, 3), num_classes=10)
    assert model.count_params() == 315722
    names = [layer.__class__.__name__ for layer in model.layers]
    assert names.count("Conv2D") == 2 and names.count("MaxPooling2D") == 2


@pytest.mark.parametrize(("arch", "shape", "classes", "params"), [
    ("ds_cnn", (49, 10, 1), 12, 24_908),      # keyword_spotting/keras_model.py
    ("mobilenet_v1", (96, 96, 3), 2, 221_794),  # visual_wake_words/vww_model.py, alpha 0.25
    ("resnet8", (32, 32, 3), 10, 78_666),      # image_classification/keras_model.py, 16 filters
    ("fc_autoencoder", (640,), None, 269_992),  # anomaly_detection/keras_model.py
])
def test_mlperf_tiny_reference_models_have_the_reference_parameter_counts(arch, shape, classes,
                                                                         params):
    task = "classification" if classes else "anomaly"
    model = km.build_model(arch, input_shape=shape, num_classes=classes, task=task)
    assert model.count_params() == params


def test_registry_covers_every_family_with_a_small_variant():
    names = km.architecture_names()
    assert set(COMPATIBLE) == set(names)
    for family in ("mlp", "cnn", "rnn", "transformer"):
        assert km.small_variant(family) == f"{family}_small"


@pytest.mark.parametrize("arch", list(COMPATIBLE))
def test_every_architecture_builds_and_predicts(arch):
    ds = km.load_dataset(COMPATIBLE[arch])
    model = km.build_model(arch, ds)
    out = model.predict(ds.test[0][:4], verbose=0)
    assert out.shape == ((4, *ds.input_shape) if ds.task == "anomaly" else
                         (4, ds.num_classes or 1))
    if ds.task == "classification":
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_small_variants_are_much_smaller():
    ds = km.load_dataset("digits")
    for family in ("mlp", "cnn", "transformer"):
        big = km.build_model(family, ds).count_params()
        small = km.build_model(f"{family}_small", ds).count_params()
        assert small * 4 <= big, family


def test_rnn_defaults_are_the_chapters():
    arch = km.get_architecture("rnn")
    assert arch.hparams["hidden_size"] == 8 and arch.hparams["num_layers"] == 2
    model = km.build_model("rnn", "sequences", cell="gru")
    assert [layer.__class__.__name__ for layer in model.layers].count("GRU") == 2


def test_sinusoidal_positional_encoding_formula():
    table = sinusoidal_table(50, 16)
    pos, i = 7, 3
    assert table[pos, 2 * i] == pytest.approx(np.sin(pos / 10000 ** (2 * i / 16)), rel=1e-5)
    assert table[pos, 2 * i + 1] == pytest.approx(np.cos(pos / 10000 ** (2 * i / 16)), rel=1e-5)


def test_transformer_ignores_padding():
    """Padding tokens are masked out of attention and pooling (the chapter's sketch is not)."""
    long = km.build_model("transformer", input_shape=(8,), num_classes=3, vocab_size=20)
    short = km.build_model("transformer", input_shape=(5,), num_classes=3, vocab_size=20)
    short.set_weights(long.get_weights())
    tokens = np.array([[4, 9, 1, 7, 3]], "int32")
    padded = np.concatenate([tokens, np.zeros((1, 3), "int32")], axis=1)
    np.testing.assert_allclose(long.predict(padded, verbose=0), short.predict(tokens, verbose=0),
                               atol=1e-6)


def test_custom_layers_reload_in_safe_mode(tmp_path):
    from kerasmodels.runs import load_model

    model = km.build_model("transformer", "text")
    path = tmp_path / "model.keras"
    model.save(path)
    x = km.load_dataset("text").test[0][:8]
    np.testing.assert_allclose(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))


def test_unknown_architecture():
    with pytest.raises(UnknownNameError, match="did you mean 'cnn'"):
        km.build_model("cnnn", "digits")


def test_unknown_hyperparameter_lists_the_known_ones():
    with pytest.raises(HyperparameterError, match="no hyperparameter filterz.*filters="):
        km.build_model("cnn", "digits", filterz=(8,))


@pytest.mark.parametrize("hparams", [{"filters": (0, 4)}, {"dense_units": -3}, {"dropout": 1.5}])
def test_impossible_hyperparameters(hparams):
    with pytest.raises(HyperparameterError):
        km.build_model("cnn", "digits", **hparams)


def test_heads_must_divide_d_model():
    with pytest.raises(HyperparameterError, match="divisible"):
        km.build_model("transformer", "text", d_model=30, num_heads=4)


def test_cnn_on_tokens_says_which_architectures_fit():
    with pytest.raises(HyperparameterError, match="use mlp, rnn or transformer"):
        km.build_model("cnn", "text")


def test_missing_shapes():
    with pytest.raises(HyperparameterError, match="needs a dataset or input_shape"):
        km.build_model("mlp")
    with pytest.raises(HyperparameterError, match="num_classes"):
        km.build_model("mlp", input_shape=(4,), num_classes=1, task="classification")
