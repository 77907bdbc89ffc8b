"""The optimizer lab: LR range test, optimizer and regularizer comparisons, and the
linear-regression loss surface.

These return plain data (lists and arrays) that the dashboard draws and the CLI prints.

>>> import kerasmodels as km
>>> surface = km.loss_surface(steps=50)
>>> sorted(surface["paths"])
['adam', 'gd', 'momentum', 'rmsprop', 'sgd']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasmodels import reference as ref
from kerasmodels.architectures import DEFAULT_ARCH, QUICK_ARCH, build_model
from kerasmodels.data import DEFAULT_DATASET
from kerasmodels.errors import HyperparameterError, check_positive

if TYPE_CHECKING:  # pragma: no cover
    from kerasmodels.data import Dataset


def find_learning_rate(arch: str = DEFAULT_ARCH, dataset: str | Dataset = DEFAULT_DATASET, *,
                       optimizer: str = "adam",
                       start: float = 1e-6, end: float = 1.0, steps: int = 100,
                       batch_size: int = 32, seed: int = 0, **hparams: Any) -> dict[str, Any]:
    """The learning-rate range test (Smith, 2017): the loss against a rising learning rate.

    The learning rate rises exponentially from ``start`` to ``end`` over ``steps``
    mini-batches of one model, the loss recorded at each; the test stops once the loss
    explodes. Nothing is saved.

    Args:
        arch: a registered architecture.
        dataset: a dataset name or a Dataset.
        optimizer: the optimizer (from its formula; ``keras:<name>`` for Keras' own).
        start: the first learning rate.
        end: the last learning rate, if the loss has not exploded before.
        steps: mini-batches, one learning rate each.
        batch_size: examples per mini-batch.
        seed: seeds the model and the batches.
        **hparams: the architecture's hyperparameters.

    Returns:
        ``learning_rates``, ``losses``, ``smoothed`` (their exponential moving average),
        ``min_loss_lr`` (where the smoothed loss is lowest) and ``suggested``: a tenth of it.

    Raises:
        UnknownNameError: an unknown architecture, dataset or optimizer.
        HyperparameterError: ``start`` not below ``end``, or a step count below 1.

    Examples:
        >>> import kerasmodels as km
        >>> found = km.find_learning_rate("linear", "digits", steps=20)
        >>> len(found["learning_rates"]) <= 20, found["suggested"] < found["min_loss_lr"]
        (True, True)
    """
    from kerasmodels.data import load_dataset
    from kerasmodels.modeling import compile_for, seed_everything
    from kerasmodels.optimizers import make_optimizer

    check_positive("start", start)
    check_positive("steps", steps, integer=True)
    if not end > start:
        raise HyperparameterError(f"end ({end}) must be greater than start ({start})")
    data = load_dataset(dataset)
    seed_everything(seed)
    model = build_model(arch, data, **hparams)
    opt = make_optimizer(optimizer, start)
    compile_for(model, data.task, opt)
    x, y = data.train
    rs = np.random.RandomState(seed)
    lrs, losses, smoothed, average = [], [], [], 0.0
    for step in range(steps):
        lr = start * (end / start) ** (step / max(1, steps - 1))
        opt.learning_rate.assign(lr)
        idx = rs.randint(0, len(x), size=min(batch_size, len(x)))
        result = model.train_on_batch(x[idx], y[idx])
        loss = float(result[0] if isinstance(result, list) else result)
        if not np.isfinite(loss):
            break
        average = 0.9 * average + 0.1 * loss
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(average / (1 - 0.9 ** (step + 1)))
        if step > 5 and smoothed[-1] > 4 * min(smoothed):
            break
    best = int(np.argmin(smoothed)) if smoothed else 0
    return {"learning_rates": lrs, "losses": losses, "smoothed": smoothed,
            "suggested": lrs[best] / 10 if lrs else start, "min_loss_lr": lrs[best] if lrs else start}


def compare_optimizers(arch: str = QUICK_ARCH, dataset: str | Dataset = DEFAULT_DATASET, *,
                       optimizers: Sequence[str] = ("sgd", "momentum", "rmsprop", "adam"),
                       epochs: int = 10, learning_rates: dict | None = None,
                       batch_size: int = 32, seed: int = 0, **hparams: Any) -> dict[str, dict[str, Any]]:
    """Train one initial model with each optimizer and return each one's per-epoch curves.

    Every optimizer starts from the same weights and sees the same batches, so the curves differ
    by the update rule alone. Nothing is saved: this is for looking (the dashboard's Optimizer
    lab plots it).

    Args:
        arch: a registered architecture.
        dataset: a dataset name or a Dataset.
        optimizers: optimizer names (``sgd``, ``momentum``, ``rmsprop``, ``adam``, ...).
        epochs: epochs per optimizer.
        learning_rates: ``{optimizer: rate}``; default 0.05 for gradient descent, 1e-3 for the
            others.
        batch_size: examples per step.
        seed: seeds the initial model and the batches.
        **hparams: the architecture's hyperparameters.

    Returns:
        ``{optimizer: {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}}``,
        each a list with one value per epoch.

    Raises:
        UnknownNameError: an unknown architecture, dataset or optimizer.
        HyperparameterError: a bad epoch count or learning rate.

    Examples:
        >>> import kerasmodels as km
        >>> curves = km.compare_optimizers("linear", "digits", optimizers=("sgd", "adam"), epochs=2)
        >>> sorted(curves), len(curves["adam"]["val_loss"])
        (['adam', 'sgd'], 2)
    """
    from kerasmodels.data import load_dataset
    from kerasmodels.modeling import compile_for, seed_everything
    from kerasmodels.optimizers import make_optimizer

    check_positive("epochs", epochs, integer=True)
    if not optimizers:
        raise HyperparameterError("give at least one optimizer to compare")
    data = load_dataset(dataset)
    seed_everything(seed)
    initial = build_model(arch, data, **hparams)
    weights = initial.get_weights()
    curves = {}
    for name in optimizers:
        lr = (learning_rates or {}).get(name) or _default_lr(name)
        seed_everything(seed)
        model = build_model(arch, data, **hparams)
        model.set_weights(weights)
        compile_for(model, data.task, make_optimizer(name, lr))
        history = model.fit(*data.train, validation_data=data.val, epochs=epochs,
                            batch_size=batch_size, verbose=0, shuffle=True)
        curves[name] = {"learning_rate": lr, **{k: [float(v) for v in vals]
                                                for k, vals in history.history.items()}}
    return curves


def _default_lr(name: str) -> float:
    return 0.05 if name.removeprefix("keras:") in ("sgd", "momentum", "nesterov") else 1e-3


SURFACE_OPTIMIZERS = {
    "gd": ("batch", lambda lr: ref.GradientDescent(lr)),
    "sgd": ("sgd", lambda lr: ref.GradientDescent(lr)),
    "momentum": ("batch", lambda lr: ref.GradientDescent(lr, momentum=0.9)),
    "rmsprop": ("batch", lambda lr: ref.RMSprop(lr)),
    "adam": ("batch", lambda lr: ref.Adam(lr)),
}
SURFACE_LRS = {"gd": 0.1, "sgd": 0.05, "momentum": 0.02, "rmsprop": 0.05, "adam": 0.1}


def loss_surface(X: np.ndarray | None = None, y: np.ndarray | None = None, *,
                 optimizers: Sequence[str] = tuple(SURFACE_OPTIMIZERS), steps: int = 100,
                 learning_rates: dict | None = None, grid: int = 60,
                 w_range: tuple[float, float] = (-1.0, 5.0),
                 b_range: tuple[float, float] = (-1.0, 5.0), seed: int = 0) -> dict[str, Any]:
    """The mean squared error of y = w x + b over a (w, b) grid, and each optimizer's path on it.

    The training chapter's picture: gradient descent walks straight down, SGD wanders, momentum
    overshoots, Adam takes even steps. Numpy only (the optimizers from their formulas,
    ``kerasmodels.reference``).

    Args:
        X: the inputs, one feature (default: the training chapter's data).
        y: the targets.
        optimizers: ``gd`` (the full batch each step), ``sgd`` (one random point), ``momentum``,
            ``rmsprop``, ``adam``.
        steps: updates per optimizer.
        learning_rates: ``{optimizer: rate}`` (defaults suited to each).
        grid: points per axis of the grid.
        w_range: the grid's range of w.
        b_range: the grid's range of b.
        seed: seeds SGD's choice of points.

    Returns:
        ``w`` and ``b`` (the grid's axes), ``loss`` (grid x grid), ``paths`` (``{optimizer:
        [(w, b), ...]}``, each from (0, 0)) and ``optimum``, the least-squares (w, b).

    Raises:
        HyperparameterError: ``X`` and ``y`` of different lengths, an unknown optimizer or a
            bad step count.

    Examples:
        >>> import kerasmodels as km
        >>> surface = km.loss_surface(steps=10, grid=10)
        >>> [round(v, 4) for v in surface["optimum"]], len(surface["paths"]["gd"])
        ([3.0573, 2.0376], 11)
    """
    check_positive("steps", steps, integer=True)
    check_positive("grid", grid, integer=True)
    if X is None or y is None:
        if X is not None or y is not None:
            raise HyperparameterError("give both X and y (one feature and its targets), or "
                                      "neither for the training chapter's data")
        X, y = ref.chapter_data()
    X, y = np.asarray(X, dtype="float64"), np.asarray(y, dtype="float64")
    if X.size != y.size or X.size < 2:
        raise HyperparameterError(f"X and y must hold one feature and its target for the same "
                                  f"points (at least 2), got {X.size} and {y.size} values")
    unknown = set(optimizers) - set(SURFACE_OPTIMIZERS)
    if unknown:
        from kerasmodels.errors import UnknownNameError

        raise UnknownNameError("optimizer", sorted(unknown)[0], SURFACE_OPTIMIZERS)
    ws, bs = np.linspace(w_range[0], w_range[1], grid), np.linspace(b_range[0], b_range[1], grid)
    W, B = np.meshgrid(ws, bs)
    pred = W[..., None] * X.ravel()[None, None, :] + B[..., None]
    loss = ((pred - y.ravel()[None, None, :]) ** 2).mean(axis=-1)
    paths = {}
    for name in optimizers:
        method, factory = SURFACE_OPTIMIZERS[name]
        lr = (learning_rates or {}).get(name, SURFACE_LRS[name])
        _, _, path = ref.linear_regression(X, y, method=method, learning_rate=lr, iterations=steps,
                                           optimizer=factory(lr), seed=seed, return_path=True)
        paths[name] = [(0.0, 0.0), *path]
    return {"w": ws.tolist(), "b": bs.tolist(), "loss": loss.tolist(), "paths": paths,
            "optimum": ref.least_squares(X, y)}


def compare_regularizers(arch: str = QUICK_ARCH, dataset: str | Dataset = DEFAULT_DATASET, *,
                         regularizers: Sequence[str | None] = (None, "l1", "l2"), strength: float = 3e-3,
                         epochs: int = 8, learning_rate: float = 1e-3, batch_size: int = 32,
                         seed: int = 0, **hparams: Any) -> dict[str, dict[str, Any]]:
    """Train one initial model with each regularizer and return each one's kernel weights.

    L1 drives weights to exactly zero, L2 only shrinks them: ``near_zero`` shows it. Nothing is
    saved.

    Args:
        arch: a registered architecture.
        dataset: a dataset name or a Dataset.
        regularizers: ``None`` (no penalty), ``"l1"``, ``"l2"`` or ``"l1l2"``.
        strength: the penalty's strength (lambda), on every kernel.
        epochs: epochs per regularizer.
        learning_rate: Adam's learning rate.
        batch_size: examples per step.
        seed: seeds the initial model and the batches.
        **hparams: the architecture's hyperparameters.

    Returns:
        ``{name: {"weights", "near_zero", "l2_norm", "val_accuracy"}}`` (``"none"`` for
        None): every kernel value flattened, the share with ``|w| < 1e-3``, the kernels' L2
        norm and the validation accuracy.

    Raises:
        UnknownNameError: an unknown architecture, dataset or regularizer.
        HyperparameterError: a negative strength or a bad epoch count.

    Examples:
        >>> import kerasmodels as km
        >>> result = km.compare_regularizers("linear", "digits", regularizers=(None, "l1"), epochs=1)
        >>> sorted(result), 0 <= result["l1"]["near_zero"] <= 1
        (['l1', 'none'], True)
    """
    from kerasmodels.data import load_dataset
    from kerasmodels.modeling import compile_for, kernel_layers, seed_everything
    from kerasmodels.optimizers import make_optimizer
    from kerasmodels.regularizers import make_regularizer, with_kernel_regularizer

    check_positive("epochs", epochs, integer=True)
    check_positive("strength", strength)
    if not regularizers:
        raise HyperparameterError("give at least one regularizer to compare")
    data = load_dataset(dataset)
    seed_everything(seed)
    weights = build_model(arch, data, **hparams).get_weights()
    result = {}
    for name in regularizers:
        seed_everything(seed)
        model = with_kernel_regularizer(build_model(arch, data, **hparams),
                                        make_regularizer(name, strength))
        model.set_weights(weights)
        compile_for(model, data.task, make_optimizer("adam", learning_rate))
        history = model.fit(*data.train, validation_data=data.val, epochs=epochs,
                            batch_size=batch_size, verbose=0)
        values = np.concatenate([w.numpy().ravel() for _, w in kernel_layers(model)])
        result[name or "none"] = {
            "weights": values.tolist(), "near_zero": float((np.abs(values) < 1e-3).mean()),
            "l2_norm": float(np.sqrt((values ** 2).sum())),
            "val_accuracy": float(history.history.get("val_accuracy", [np.nan])[-1])}
    return result
