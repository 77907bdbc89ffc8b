"""What every recipe shares: an exact clone, fine-tuning, and saving the result as a child run."""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels._compat import has_mask
from kerasmodels.runs import Run, new_run_id


def wrapper_limit(layer) -> str | None:
    """Why tfmot's wrappers cannot wrap ``layer`` in this model, though its registry lists it.

    The wrappers pass a padding mask (from ``Embedding(mask_zero=True)``) on to the wrapped
    layer's ``call``; layers whose ``call`` takes no ``mask`` (Dense, LayerNormalization,
    MultiHeadAttention, which takes ``attention_mask``) then fail.
    """
    try:
        inputs = layer.input
    except (AttributeError, ValueError):
        return None
    tensors = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    masked = any(has_mask(t) for t in tensors)
    if masked and "mask" not in inspect.signature(layer.call).parameters:
        return "it receives a padding mask, which tfmot's wrapper would pass to its call"
    return None


_SESSION: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "kerasmodels_compression", default=None)


@contextlib.contextmanager
def compression_session(logs: Path, progress: bool) -> Iterator[dict[str, Any]]:
    """While a recipe runs: its steps' fits write TensorBoard scalars under ``logs/<step>``
    and, with ``progress``, show a bar per step (per thread: the dashboard's pages are
    threads)."""
    session = {"logs": Path(logs), "progress": progress, "step": "compress"}
    token = _SESSION.set(session)
    try:
        yield session
    finally:
        _SESSION.reset(token)


@contextlib.contextmanager
def substep(name: str) -> Iterator[None]:
    """A second training inside a step (distillation's student alone) logs apart."""
    session = _SESSION.get()
    if session is None:
        yield
        return
    step = session["step"]
    session["step"] = f"{step}-{name}"
    try:
        yield
    finally:
        session["step"] = step


def fit_callbacks(epochs: int) -> list:
    """The callbacks a compression step's ``fit`` adds: TensorBoard scalars and progress."""
    from kerasmodels.callbacks import EpochSummaries, ProgressBar

    session = _SESSION.get()
    if session is None:
        return []
    callbacks: list = [EpochSummaries(session["logs"] / session["step"])]
    if session["progress"]:
        callbacks.append(ProgressBar(epochs, description=session["step"]))
    return callbacks


def fit_history(history, learning_rate: float) -> dict[str, list[float]]:
    """A Keras History as lists of floats, with the learning rate of every epoch."""
    out = {k: [float(v) for v in values] for k, values in history.history.items()}
    out["learning_rate"] = [float(learning_rate)] * len(history.epoch)
    return out


def fine_tune(model, data, *, epochs: int, learning_rate: float, batch_size: int = 32,
              callbacks: list | tuple = (), seed: int = 0) -> dict[str, list[float]]:
    """Compile and train ``model`` on the dataset's train split; returns the Keras history."""
    from kerasmodels.modeling import compile_for, seed_everything
    from kerasmodels.optimizers import make_optimizer

    seed_everything(seed)
    compile_for(model, data.task, make_optimizer("adam", learning_rate))
    from kerasmodels.resume import fit_arguments

    history = model.fit(**fit_arguments(data.fitting("train"), data.fitting("val"),
                                        batch_size=batch_size, epochs=epochs, seed=seed),
                        epochs=epochs, callbacks=[*callbacks, *fit_callbacks(epochs)],
                        verbose=0)
    return fit_history(history, learning_rate)


def kernel_weights(model) -> dict[str, np.ndarray]:
    """``layer name -> kernel values`` (or embedding matrix) for every layer that has one."""
    from kerasmodels.modeling import kernel_layers

    return {name: weight.numpy() for name, weight in kernel_layers(model)}


def sparsity_by_kernel(model) -> dict[str, float]:
    """Fraction of exactly-zero values in each kernel, measured from the weights."""
    return {name: float((w == 0).mean()) for name, w in kernel_weights(model).items()}


def save_child(parent: Run, model, recipe: str, data, *, options: dict[str, Any],
               report: dict[str, Any], history: dict[str, list], seconds: float,
               saved=None, files: dict[str, bytes] | None = None,
               logs: Path | None = None) -> Run:
    """Save ``model`` as a run whose manifest names ``parent`` and ``recipe``.

    Args:
        saved: what the run folder holds as its model when that is not ``model`` itself (the
            recipe's last step's ``saves``: a QAT model's float model), with ``files`` beside
            it; the returned run holds ``model``.
    """
    from kerasmodels.errors import RunError
    from kerasmodels.layout import MODEL
    from kerasmodels.modeling import compile_for, evaluate
    from kerasmodels.runs import load_model, new_manifest, remove_tree, save_run

    out_dir = parent.path.parent
    saved = model if saved is None else saved
    if getattr(model, "optimizer", None) is None:
        from kerasmodels.optimizers import make_optimizer

        compile_for(model, data.task, make_optimizer("adam", 1e-3))
    arch = dict(parent.manifest["arch"])
    if "student_arch" in report:  # distillation: the child is another architecture
        arch = report.pop("student_record")
    arch["params"] = int(model.count_params())
    manifest = new_manifest(
        new_run_id(arch["name"], data.name, out_dir, recipe),
        arch=arch, dataset=data, metrics=evaluate(model, data),
        training={"epochs_run": len(history.get("loss", [])), "recipe": recipe,
                  "parent_training": parent.record.training},
        parent=parent.id, recipe=recipe,
        compression={"recipe": recipe, "options": options, **report,
                     "seconds": round(seconds, 3)},
        **{key: parent.manifest[key] for key in ("source",) if key in parent.manifest},
    )
    child = save_run(saved, manifest, history, out_dir, files=files or {}, dataset=data,
                     logs=logs, held=model)
    try:  # a child that cannot be opened again is not kept: it would be a lost run
        load_model(child.path / MODEL, child.record.source.get("custom_objects"))
    except RunError as exc:
        remove_tree(child.path)
        raise RunError(f"{recipe} made {child.id}, which does not open again once saved "
                       f"({exc}); it was not kept: report it with the parent run") from None
    return child
