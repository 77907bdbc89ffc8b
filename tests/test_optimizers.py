"""The optimizers written from their formulas equal Keras' built-ins and the numpy reference.

Each case runs 200 steps on the same model and data: a linear regression (dense gradients) and
an embedding table read through ``tf.gather`` (sparse ``IndexedSlices`` gradients).
"""

from __future__ import annotations

import numpy as np
import pytest

from kerasmodels import reference as ref
from kerasmodels.backend import keras, tf
from kerasmodels.optimizers import OPTIMIZERS, make_optimizer

STEPS = 200
CASES = [
    ("sgd", {}),
    ("momentum", {}),
    ("nesterov", {}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True, "momentum": 0.5}),
    ("adam", {}),
    ("adam", {"amsgrad": True, "beta_1": 0.8}),
    ("adamw", {"weight_decay": 0.01}),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in opts.items()) for name, opts in CASES]
REFERENCE = {"sgd": ref.GradientDescent, "momentum": ref.GradientDescent,
             "nesterov": ref.GradientDescent, "rmsprop": ref.RMSprop, "adam": ref.Adam,
             "adamw": ref.AdamW}
LEARNING_RATE = 2**-7  # exact in float32 (Keras keeps the rate in a float32 variable)


class Problem:
    """Data, initial parameters, and the loss gradient in numpy (the oracle's own maths)."""

    def __init__(self, sparse: bool, seed: int = 0):
        rs = np.random.RandomState(seed)
        self.sparse = sparse
        if sparse:  # predict y from the sum of a few embedding rows, read out by r
            self.x = rs.randint(0, 20, size=(64, 4))
            self.r = rs.randn(3)
            self.init = [rs.randn(20, 3) * 0.5]
        else:
            self.x = rs.randn(64, 5)
            self.init = [rs.randn(5, 1) * 0.5, np.zeros(1)]
        self.y = rs.randn(64)

    def batch(self, step: int):
        idx = slice((step * 8) % 64, (step * 8) % 64 + 8)
        return self.x[idx], self.y[idx]

    def numpy_gradients(self, params, x, y):
        if self.sparse:
            (table,) = params
            err = table[x].dot(self.r).sum(axis=1) - y
            grad = np.zeros_like(table)
            np.add.at(grad, x, (2 / len(y) * err)[:, None, None] * self.r[None, None, :])
            return [grad]
        w, b = params
        err = x.dot(w).ravel() + b[0] - y
        return [2 / len(y) * x.T.dot(err)[:, None], np.array([2 * err.mean()])]

    def tf_loss(self, variables, x, y):
        if self.sparse:
            (table,) = variables
            rows = tf.gather(table, x)  # its gradient is IndexedSlices
            pred = tf.reduce_sum(tf.tensordot(rows, tf.cast(self.r, table.dtype), 1), axis=1)
        else:
            w, b = variables
            pred = tf.reshape(tf.matmul(x, w), [-1]) + b[0]
        return tf.reduce_mean(tf.square(pred - y))


def run_keras_api(optimizer, problem: Problem, dtype: str) -> list[np.ndarray]:
    variables = [tf.Variable(p.astype(dtype)) for p in problem.init]

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = problem.tf_loss(variables, x, y)
        grads = tape.gradient(loss, variables)
        if problem.sparse:
            assert isinstance(grads[0], tf.IndexedSlices)
        optimizer.apply_gradients(zip(grads, variables, strict=True))

    for i in range(STEPS):
        x, y = problem.batch(i)
        step(tf.constant(x if problem.sparse else x.astype(dtype)), tf.constant(y.astype(dtype)))
    return [v.numpy() for v in variables]


def run_reference(optimizer, problem: Problem) -> list[np.ndarray]:
    params = [p.copy() for p in problem.init]
    for i in range(STEPS):
        x, y = problem.batch(i)
        optimizer.step(params, problem.numpy_gradients(params, x, y))
    return params


def relative_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """max |a - b| over the parameters, relative to the largest magnitude in either."""
    scale = max(max(np.abs(p).max(), np.abs(q).max()) for p, q in zip(a, b, strict=True))
    return max(float(np.abs(p - q).max()) for p, q in zip(a, b, strict=True)) / (scale + 1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize(("name", "options"), CASES, ids=IDS)
def test_trajectory_equals_keras_builtin(name, options, sparse):
    problem = Problem(sparse)
    ours = run_keras_api(make_optimizer(name, LEARNING_RATE, **options), problem, "float32")
    theirs = run_keras_api(make_optimizer(f"keras:{name}", LEARNING_RATE, **options), problem,
                           "float32")
    moved = relative_difference(ours, problem.init)
    diff = relative_difference(ours, theirs)
    print(f"{name} {options} {'sparse' if sparse else 'dense'}: moved {moved:.3f}, "
          f"relative difference to keras:{name} {diff:.2e}")
    assert moved > 0.05, "the optimizer barely moved the weights: the comparison would be empty"
    # float32: the same operations in the same order, so the same bits; sparse RMSprop alone
    # differs (Keras updates its sparse slots with scatter ops, rounding differently)
    assert diff <= (2e-7 if (sparse and name == "rmsprop") else 0.0)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize(("name", "options"), CASES, ids=IDS)
def test_trajectory_equals_numpy_reference(name, options, sparse):
    problem = Problem(sparse)
    full = {**OPTIMIZERS[name][2], **options}
    ours = run_keras_api(make_optimizer(name, LEARNING_RATE, **full), problem, "float64")
    oracle = run_reference(REFERENCE[name](LEARNING_RATE, **full), problem)
    diff = relative_difference(ours, oracle)
    print(f"{name} {options}: relative difference to the numpy reference {diff:.2e}")
    assert diff < 1e-12  # float64 on both sides: the same formula to machine precision


def _small_model():
    inputs = keras.Input((4,), dtype="int32")
    h = keras.layers.Flatten()(keras.layers.Embedding(20, 3)(inputs))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))


@pytest.mark.parametrize(("name", "schedule"), [(n, None) for n in OPTIMIZERS] + [("adam", "cosine")])
def test_keras_file_saved_mid_training_continues_exactly(tmp_path, name, schedule):
    rs = np.random.RandomState(0)
    x, y = rs.randint(0, 20, (32, 4)), rs.randint(0, 2, 32)
    keras.utils.set_random_seed(0)
    lr = (keras.optimizers.schedules.CosineDecay(0.01, decay_steps=20) if schedule else 0.01)
    model = _small_model()
    model.compile(make_optimizer(name, lr), "sparse_categorical_crossentropy")
    for i in range(5):
        model.train_on_batch(x[i * 4:i * 4 + 8], y[i * 4:i * 4 + 8])
    path = tmp_path / "mid.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    assert type(reloaded.optimizer) is type(model.optimizer)
    assert reloaded.optimizer.get_config() == model.optimizer.get_config()
    assert int(reloaded.optimizer.iterations) == 5
    for i in range(5, 10):
        batch = slice(i * 2, i * 2 + 8)
        model.train_on_batch(x[batch], y[batch])
        reloaded.train_on_batch(x[batch], y[batch])
    for a, b in zip(model.get_weights(), reloaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # continues exactly: the same bits


def test_optimizers_work_under_tf_distribute():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    rs = np.random.RandomState(0)
    x, y = rs.randint(0, 20, (64, 4)), rs.randint(0, 2, 64)
    for name in OPTIMIZERS:
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = _small_model()
            model.compile(make_optimizer(name, 0.01), "sparse_categorical_crossentropy")
        before = [w.copy() for w in model.get_weights()]
        history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_make_optimizer_options_and_names():
    opt = make_optimizer("adam", 1e-3, beta_1=0.8, amsgrad=True)
    assert opt.get_config()["beta_1"] == 0.8 and opt.amsgrad
    assert type(opt).__module__.startswith("kerasmodels.optimizers")
    assert type(make_optimizer("keras:adam", 1e-3)).__module__.startswith("tf_keras")
    assert make_optimizer("nesterov", 0.1).nesterov
