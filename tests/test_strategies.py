"""Training strategies, regularizers, schedules and the optimizer lab, through the public API."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels import reference as ref
from kerasmodels.backend import keras, tf
from kerasmodels.errors import HyperparameterError, UnknownNameError
from kerasmodels.regularizers import L1, L1L2, L2
from tests.conftest import cli


def decreasing(values) -> bool:
    return all(a > b for a, b in pairwise(values))


def distance(a, b) -> float:
    return float(max(abs(a[0] - b[0]), abs(a[1] - b[1])))


# -- the gradient-descent chapter, done right -------------------------------------------------

@pytest.mark.parametrize(("method", "options"), [
    ("batch", {"learning_rate": 0.1, "iterations": 2000}),
    ("sgd", {"learning_rate": 0.05, "iterations": 20000, "decay": 0.01}),
    ("minibatch", {"learning_rate": 0.05, "iterations": 20000, "decay": 0.05, "batch_size": 16}),
])
def test_linear_regression_reaches_least_squares(method, options):
    X, y = ref.chapter_data()
    optimum = ref.least_squares(X, y)
    w, b = ref.linear_regression(X, y, method=method, **options)
    print(f"{method}: (w, b) = ({w:.5f}, {b:.5f}), least squares {optimum}, "
          f"off by {distance((w, b), optimum):.1e}")
    assert distance((w, b), optimum) < 1e-3
    assert optimum[0] == pytest.approx(3, abs=0.2) and optimum[1] == pytest.approx(2, abs=0.2)


def test_the_chapters_snippet_cannot_converge():
    X, y = ref.chapter_data()
    w, b = ref.chapter_linear_regression(X, y)
    print(f"the chapter's snippet ends at (w, b) = ({w:.3g}, {b:.3g})")
    assert distance((w, b), ref.least_squares(X, y)) > 10


def test_penalties_match_the_reference():
    w = np.random.RandomState(0).randn(6, 4).astype("float32")
    assert float(L1(0.3)(tf.constant(w))) == pytest.approx(ref.l1_penalty([w], 0.3), rel=1e-5)
    assert float(L2(0.3)(tf.constant(w))) == pytest.approx(ref.l2_penalty([w], 0.3), rel=1e-5)
    both = ref.l1_penalty([w], 0.1) + ref.l2_penalty([w], 0.2)
    assert float(L1L2(0.1, 0.2)(tf.constant(w))) == pytest.approx(both, rel=1e-5)
    variable = tf.Variable(w)
    with tf.GradientTape() as tape:
        penalty = L2(0.3)(variable)
    np.testing.assert_allclose(tape.gradient(penalty, variable), ref.l2_gradient(w, 0.3), rtol=1e-5)
    assert L1.from_config(L1(0.3).get_config()).strength("l1") == 0.3


# -- strategies in km.train --------------------------------------------------------------------

def test_full_batch_gradient_descent_reaches_least_squares(tmp_path):
    run = km.train("linear", "regression", strategy="batch", optimizer="sgd", learning_rate=0.3,
                   epochs=60, out_dir=tmp_path, verbose=0)
    data = run.dataset()
    training = run.manifest["training"]
    assert training["strategy"] == "batch" and training["steps_per_epoch"] == 1
    assert training["batch_size"] == len(data.train[0])
    kernel, bias = run.model.get_layer("prediction").get_weights()
    optimum = ref.least_squares(*[a.astype("float64") for a in data.train])
    print(f"full-batch GD: ({kernel[0, 0]:.5f}, {bias[0]:.5f}), least squares {optimum}")
    assert distance((kernel[0, 0], bias[0]), optimum) < 1e-3


def test_sgd_strategy_takes_one_example_per_step(tmp_path):
    steps = []
    counter = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: steps.append(batch))
    run = km.train("linear", "regression", strategy="sgd", optimizer="sgd", learning_rate=0.01,
                   epochs=2, out_dir=tmp_path, verbose=0, callbacks=[counter])
    n = len(run.dataset().train[0])
    assert len(steps) == 2 * n, "one optimizer step per training example, every epoch"
    training = run.manifest["training"]
    assert training["batch_size"] == 1 and training["steps_per_epoch"] == n


# -- regularizers: L1 makes weights sparse, L2 shrinks them ------------------------------------

@pytest.fixture(scope="module")
def regularized_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("regularized")
    return {reg: km.train("mlp", "digits", epochs=8, regularizer=reg, reg_strength=3e-3,
                          out_dir=out, verbose=0)
            for reg in (None, "l1", "l2")}


def test_l1_makes_weights_sparse_and_l2_shrinks_them(regularized_runs):
    figures = {}
    for reg, run in regularized_runs.items():
        kernel = run.model.get_layer("dense_0").kernel.numpy()
        figures[reg] = ((np.abs(kernel) < 1e-3).mean(), np.linalg.norm(kernel),
                        run.metrics["test"]["accuracy"])
        print(f"{reg or 'none'}: {figures[reg][0]:.1%} of dense_0 below 1e-3, L2 norm "
              f"{figures[reg][1]:.2f}, test accuracy {figures[reg][2]:.3f}")
    assert figures["l1"][0] >= 0.5
    assert figures[None][0] < 0.05
    assert figures["l2"][1] < 0.8 * figures[None][1]


def test_weight_statistics_are_in_the_history(regularized_runs):
    history = regularized_runs["l1"].history
    near_zero = history["weights/dense_0/near_zero"]
    assert len(near_zero) == 8 and near_zero[-1] > near_zero[0]
    assert history["weights/dense_0/l1"][-1] < history["weights/dense_0/l1"][0]
    assert {"weights/logits/l2", "weights/dense_1/l1"} <= set(history)


def test_regularization_strength_warms_up(tmp_path):
    run = km.train("linear", "regression", epochs=3, regularizer="l2", reg_strength=0.03,
                   reg_warmup_epochs=3, out_dir=tmp_path, verbose=0)
    assert run.history["reg_strength"] == pytest.approx([0.01, 0.02, 0.03])
    assert run.model.get_layer("prediction").kernel_regularizer.strength("l2") == pytest.approx(0.03)


# -- learning-rate schedules -------------------------------------------------------------------

def lr_curve(tmp_path, schedule, epochs=6, **options):
    run = km.train("linear", "regression", epochs=epochs, learning_rate=0.1, schedule=schedule,
                   schedule_options=options, out_dir=tmp_path, verbose=0)
    assert run.manifest["training"]["schedule"]["name"] == schedule
    return run.history["learning_rate"]


def test_step_and_exponential_schedules_decay(tmp_path):
    step = lr_curve(tmp_path, "step", every=2, drop=0.5)
    assert step == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    exponential = lr_curve(tmp_path, "exponential", final_fraction=0.1)
    assert exponential[0] == pytest.approx(0.1) and decreasing(exponential)
    assert exponential[-1] == pytest.approx(0.1 * 0.1 ** (5 / 6), rel=1e-4)


def test_cosine_warms_up_then_decays(tmp_path):
    cosine = lr_curve(tmp_path, "cosine", warmup_epochs=2)
    assert cosine[:3] == pytest.approx([0.0, 0.05, 0.1])
    assert decreasing(cosine[2:]) and cosine[-1] > 0


def test_a_one_epoch_cosine_has_no_default_warmup(tmp_path):
    """The default warmup (one epoch) applies only where there is more than one epoch: a
    one-epoch cosine run (a search's quick trial) decays from the start."""
    assert lr_curve(tmp_path, "cosine", epochs=1) == pytest.approx([0.1])
    with pytest.raises(HyperparameterError, match="warmup_epochs must be shorter than the 1 "):
        lr_curve(tmp_path, "cosine", epochs=1, warmup_epochs=1)


def test_plateau_lowers_the_rate_when_validation_stalls(tmp_path):
    plateau = lr_curve(tmp_path, "plateau", epochs=40, patience=1, factor=0.5)
    assert plateau[0] == pytest.approx(0.1) and min(plateau) <= 0.05


# -- the optimizer lab -------------------------------------------------------------------------

def test_find_learning_rate_returns_a_curve_and_a_suggestion():
    found = km.find_learning_rate("mlp", "digits", steps=60, start=1e-5, end=10.0)
    lrs, losses = found["learning_rates"], found["losses"]
    assert len(lrs) == len(losses) >= 20 and decreasing(lrs[::-1])
    smoothed = found["smoothed"]
    lowest = int(np.argmin(smoothed))
    assert found["min_loss_lr"] == lrs[lowest] and found["suggested"] == lrs[lowest] / 10
    assert 0 < lowest < len(lrs) - 1, "the minimum lies inside the range, not at an end"
    assert smoothed[lowest] < 0.8 * smoothed[0], "the loss fell on the way to its minimum"
    assert smoothed[-1] > smoothed[lowest], "and rose again beyond it (the range test's end)"
    print(f"LR range test: suggested {found['suggested']:.2e} over {len(lrs)} steps")


def test_compare_optimizers_starts_every_optimizer_from_the_same_weights():
    curves = km.compare_optimizers("mlp", "digits", optimizers=["sgd", "adam", "keras:adam"],
                                   epochs=2)
    assert set(curves) == {"sgd", "adam", "keras:adam"}
    assert len(curves["adam"]["loss"]) == 2 and len(curves["sgd"]["val_accuracy"]) == 2
    np.testing.assert_allclose(curves["adam"]["loss"], curves["keras:adam"]["loss"], rtol=1e-4)


def test_loss_surface_and_paths():
    surface = km.loss_surface(steps=200, grid=30)
    loss = np.array(surface["loss"])
    assert loss.shape == (30, 30) and (loss > 0).all()
    for name, path in surface["paths"].items():
        assert path[0] == (0.0, 0.0) and len(path) == 201
        assert ref.mse(*ref.chapter_data(), *path[-1]) < ref.mse(*ref.chapter_data(), *path[0]), name
    assert distance(surface["paths"]["gd"][-1], surface["optimum"]) < 1e-3


@pytest.mark.parametrize(("X", "y"), [(np.zeros(3), np.zeros(4)), (np.zeros(3), None),
                                      (np.zeros(1), np.zeros(1))])
def test_loss_surface_refuses_data_that_is_not_points_and_their_targets(X, y):
    """Different lengths were a numpy broadcasting error from deep inside."""
    with pytest.raises(HyperparameterError, match="X and y|give both X and y"):
        km.loss_surface(X, y, steps=2, grid=3)


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"optimizer": "adamm"}, UnknownNameError, "unknown optimizer 'adamm': did you mean 'adam'"),
    ({"strategy": "stochastic"}, UnknownNameError, "unknown strategy"),
    ({"schedule": "cosin"}, UnknownNameError, "unknown schedule"),
    ({"learning_rate": 0.0}, HyperparameterError, "learning_rate must be a number > 0, got 0.0"),
    ({"optimizer_options": {"beta_1": 1.0}}, HyperparameterError, r"beta_1 must be in \[0, 1\)"),
    ({"optimizer_options": {"beta_2": -0.1}}, HyperparameterError, r"beta_2 must be in \[0, 1\)"),
    ({"optimizer": "keras:adam", "optimizer_options": {"beta_1": 1.5}}, HyperparameterError,
     "beta_1"),
    ({"optimizer": "momentum", "optimizer_options": {"momentum": 1.5}}, HyperparameterError,
     r"momentum must be in \[0, 1\]"),
    ({"optimizer": "rmsprop", "optimizer_options": {"rho": 1.0}}, HyperparameterError, "rho"),
    ({"optimizer_options": {"betta": 0.9}}, HyperparameterError, "betta"),
    ({"regularizer": "l1", "reg_strength": -1e-3}, HyperparameterError, "reg_strength"),
    ({"strategy": "batch", "batch_size": 8}, HyperparameterError, "strategy 'batch'"),
    ({"schedule": "step", "schedule_options": {"drop": 2.0}}, HyperparameterError, "drop"),
])
def test_bad_training_options_are_clear_errors(tmp_path, kwargs, error, match):
    out = tmp_path / "runs"
    with pytest.raises(error, match=match):
        km.train("mlp", "digits", epochs=1, out_dir=out, verbose=0, **kwargs)
    assert not out.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "stochastic"], "unknown strategy 'stochastic'"),
    (["--optimizer-option", "beta_1=1.2"], "beta_1 must be in [0, 1)"),
    (["--optimizer", "momentum", "--optimizer-option", "momentum=-0.5"], "momentum must be in"),
    (["--regularizer", "l1", "--reg-strength", "-1"], "reg_strength must be a number from 0 to 1,000, got -1.0"),
])
def test_bad_training_options_from_the_cli(tmp_path, args, message):
    result = cli("train", "--arch", "mlp", "--epochs", "1", *args,
                     "--out-dir", str(tmp_path / "runs"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "runs").exists()


def test_cli_trains_with_a_strategy_schedule_and_optimizer_options(tmp_path):
    out = tmp_path / "runs"
    result = cli("train", "--arch", "linear", "--dataset", "regression", "--epochs", "4",
                     "--strategy", "batch", "--optimizer", "nesterov", "--optimizer-option",
                     "momentum=0.8", "--learning-rate", "0.1", "--schedule", "step",
                     "--schedule-option", "every=2", "--regularizer", "l2",
                     "--reg-warmup-epochs", "2", "--quiet", "--out-dir", str(out))
    assert result.returncode == 0, result.stderr
    (run,) = km.list_runs(out)
    training = run.manifest["training"]
    assert training["strategy"] == "batch" and training["steps_per_epoch"] == 1
    config = training["optimizer"]["config"]["config"]
    assert config["momentum"] == 0.8 and config["nesterov"] is True
    assert training["schedule"] == {"name": "step", "every": 2}
    assert run.history["reg_strength"] == pytest.approx([5e-5, 1e-4, 1e-4, 1e-4])


def test_lr_find_from_the_cli():
    result = cli("lr-find", "--arch", "mlp", "--steps", "40")
    assert result.returncode == 0, result.stderr
    assert "learning_rate" in result.stdout and "suggested learning rate:" in result.stdout
    bad = cli("lr-find", "--arch", "mlp", "--steps", "0")
    assert bad.returncode == 2 and "steps must be > 0" in bad.stderr
