"""Pretraining on unlabelled data, then fine-tuning with a new head.

``km.pretrain("transformer", "text", objective="masked" | "next_token")`` trains the encoder
on token sequences without labels: masked-token prediction (15% of the tokens replaced by a
``[MASK]`` id, predicted from both sides) or next-token prediction (causal attention). The
corpus is generated apart from the labelled data (another seed), so nothing leaks.
``km.finetune(run, dataset, freeze="encoder" | "none")`` puts a new head on the pretrained
backbone: frozen, or trained at half the head's learning rate (two optimizers). Any
classifier run is a backbone too: a CNN trained on digits 0-4 fine-tunes to digits 5-9.
With ``compare_scratch=True`` the same architecture is trained from scratch on the same
labels with the same budget, and both figures go in the manifest.

>>> lm = km.pretrain("transformer", "text", objective="masked", epochs=10)  # doctest: +SKIP
>>> tuned = km.finetune(lm, "text", labelled_fraction=0.1, compare_scratch=True)  # doctest: +SKIP
>>> tuned.manifest["finetune"]["scratch"]["test"]["accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.architectures import (
    FAMILIES,
    PRETRAIN_ARCH,
    build_model,
    family_of,
    get_architecture,
)
from kerasmodels.data import Dataset
from kerasmodels.errors import HyperparameterError, UnknownNameError, check_positive
from kerasmodels.layout import RUNS_DIR
from kerasmodels.runs import Run, load_run, new_run_id

OBJECTIVES = ("masked", "next_token")
FREEZE = ("encoder", "none")
HEAD_LAYERS = ("logits", "probabilities", "output", "pool")
LM_HEAD = "lm_logits"


def _corpus(corpus, seed: int, options: dict[str, Any]):
    """Unlabelled token sequences: a dataset name (``text`` is generated with another seed than
    the labelled data's) or a Dataset."""
    from kerasmodels.data import load_dataset

    if isinstance(corpus, str):
        extra = {"seed": seed + 1000, "n": 6000} if corpus == "text" else {}
        data = load_dataset(corpus, **{**extra, **options})
    else:
        data = load_dataset(corpus)
    if not data.vocab_size:
        raise HyperparameterError(f"pretraining needs token sequences; {data.name} is "
                                  f"{data.preprocessing.get('kind', 'not tokens')}")
    return data


def masked_batch(x: np.ndarray, mask_id: int, rate: float, rs: np.random.RandomState):
    """(inputs with ``rate`` of the real tokens replaced by ``mask_id``, targets, weights)."""
    real = x != 0
    chosen = (rs.random_sample(x.shape) < rate) & real
    inputs = np.where(chosen, mask_id, x).astype(x.dtype)
    weights = np.where(chosen, 1.0, 0.1 * real).astype("float32")  # masked ones count most
    return inputs, x, weights


def next_token_batch(x: np.ndarray):
    """(inputs, the next token at each position, weights: 1 where there is a next token)."""
    targets = np.concatenate([x[:, 1:], np.zeros_like(x[:, :1])], axis=1)
    weights = (targets != 0).astype("float32")
    weights[:, -1] = 0.0
    return x, targets, weights


def language_model(arch: str, data, *, causal: bool, **hparams):
    """The encoder of ``arch`` (up to its pooling) with a per-position vocabulary head."""
    from kerasmodels.backend import keras

    classifier = build_model(arch, data, causal=causal, **hparams)
    sequence = classifier.get_layer("pool").input
    logits = keras.layers.Dense(data.vocab_size, name=LM_HEAD)(sequence)
    return keras.Model(classifier.inputs, logits, name=f"{arch}_{'causal_' if causal else ''}lm")


def pretrain(arch: str = PRETRAIN_ARCH, corpus: str | Dataset = "text", *,
             objective: str = "masked",
             epochs: int = 10, mask_rate: float = 0.15, learning_rate: float = 1e-3,
             batch_size: int = 32, seed: int = 0, out_dir: str | Path = RUNS_DIR,
             corpus_options: dict[str, Any] | None = None, verbose: int = 1,
             **hparams: Any) -> Run:
    """Pretrain ``arch``'s encoder on ``corpus`` without labels, and save it as a run.

    The architecture chapter's pretraining: ``masked`` replaces 15% of the tokens with a
    ``[MASK]`` id and learns to restore them (the loss on them, a tenth of it on the others);
    ``next_token`` learns to predict each next token under causal attention. ``km.finetune``
    then puts a classifier head on the encoder.

    Args:
        arch: a transformer architecture (the encoder is what transfers).
        corpus: a token dataset name (its labels are not used) or a Dataset.
        objective: ``masked`` or ``next_token``.
        epochs: passes over the corpus.
        mask_rate: the share of tokens masked (``masked``).
        learning_rate: Adam's learning rate.
        batch_size: sequences per step.
        seed: seeds the masks, the model and the batches.
        out_dir: the runs folder the run is saved in.
        corpus_options: options of a corpus given by name (``{"context": 0.8}``).
        verbose: 0 silent, 1 a progress bar per epoch.
        **hparams: the architecture's hyperparameters.

    Returns:
        The pretrained run (a language model: ``finetune`` takes its encoder).

    Raises:
        UnknownNameError: an unknown objective, architecture or corpus.
        HyperparameterError: an architecture that does not pretrain, a corpus that is not
            token sequences, a mask rate outside (0, 1) or a bad epoch count.

    Examples:
        >>> import kerasmodels as km
        >>> encoder = km.pretrain("transformer_small", "text", epochs=1, verbose=0)
        >>> encoder.arch, encoder.manifest["pretraining"]["objective"]
        ('transformer_small', 'masked')
    """
    from kerasmodels.modeling import seed_everything
    from kerasmodels.optimizers import make_optimizer
    from kerasmodels.runs import new_manifest, save_run

    if objective not in OBJECTIVES:
        raise UnknownNameError("pretraining objective", objective, OBJECTIVES)
    spec = get_architecture(arch)
    if not family_of(arch).pretrains:
        able = sorted(f.name for f in FAMILIES.values() if f.pretrains)
        raise HyperparameterError(f"pretrain takes a {' or '.join(able)} (the encoder is what "
                                  f"transfers); {arch} is a {spec.family}. For images, train a "
                                  "classifier and km.finetune it")
    check_positive("epochs", epochs, integer=True)
    if not 0 < mask_rate < 1:
        raise HyperparameterError(f"mask_rate must be in (0, 1), got {mask_rate!r}")
    data = _corpus(corpus, seed, corpus_options or {})
    # one more id: [MASK] (the fine-tuned model keeps the same embedding size)
    lm_data = dataclasses.replace(data, vocab_size=data.vocab_size + 1)
    mask_id = data.vocab_size
    seed_everything(seed)
    model = language_model(arch, lm_data, causal=objective == "next_token", **hparams)
    from kerasmodels.backend import keras

    model.compile(optimizer=make_optimizer("adam", learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=["accuracy"])
    x = np.concatenate([data.train[0], data.val[0]])
    held_out = data.test[0]
    rs = np.random.RandomState(seed)

    def batches(tokens):
        if objective == "masked":
            return masked_batch(tokens, mask_id, mask_rate, rs)
        return next_token_batch(tokens)

    history: dict[str, list[float]] = {}
    started = time.perf_counter()
    val_inputs, val_targets, val_weights = batches(held_out)
    from kerasmodels.callbacks import ProgressBar

    callbacks = [ProgressBar(epochs, f"pretrain {arch} ({objective})")] if verbose else []
    for epoch in range(epochs):  # a fresh mask every epoch
        inputs, targets, weights = batches(x)
        result = model.fit(inputs, targets, sample_weight=weights, batch_size=batch_size,
                           epochs=epoch + 1, initial_epoch=epoch, verbose=0, callbacks=callbacks,
                           validation_data=(val_inputs, val_targets, val_weights))
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    seconds = time.perf_counter() - started
    loss, accuracy = model.evaluate(val_inputs, val_targets, sample_weight=val_weights,
                                    verbose=0)
    out_dir = Path(out_dir)
    manifest = new_manifest(
        new_run_id(arch, data.name, out_dir, f"pretrain-{objective}"),
        arch={"name": arch, "family": spec.family,
              "hparams": {**spec.hparams, **hparams, "causal": objective == "next_token"},
              "params": int(model.count_params())},
        dataset={**lm_data.to_manifest(), "task": f"pretraining:{objective}"},
        training={"optimizer": {"name": "adam"}, "learning_rate": learning_rate,
                  "epochs": epochs, "epochs_run": epochs, "batch_size": batch_size,
                  "seed": seed, "seconds": round(seconds, 3), "strategy": "minibatch"},
        pretraining={"objective": objective, "mask_rate": mask_rate if objective == "masked"
                     else None, "mask_id": mask_id if objective == "masked" else None,
                     "corpus": {"name": data.name, "options": data.options,
                                "sequences": int(len(x))}},
        metrics={"test": {"loss": float(loss), "token_accuracy": float(accuracy)}},
    )
    return save_run(model, manifest, history, out_dir)


class FineTuner:
    """Train a classifier whose backbone learns at ``backbone_factor`` times the head's rate
    (two optimizers, one per group: Adam's step does not shrink with a scaled gradient)."""

    def __init__(self, model, backbone: list[str], learning_rate: float, backbone_factor: float):
        from kerasmodels.backend import keras, tf
        from kerasmodels.optimizers import make_optimizer

        self.model = model
        names = set(backbone)
        self.backbone_vars = [v for layer in model.layers if layer.name in names
                              for v in layer.trainable_variables]
        self.head_vars = [v for layer in model.layers if layer.name not in names
                          for v in layer.trainable_variables]
        self.head_opt = make_optimizer("adam", learning_rate)
        self.backbone_opt = make_optimizer("adam", learning_rate * backbone_factor)
        self.loss = keras.losses.SparseCategoricalCrossentropy()

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = self.loss(y, model(x, training=True)) + sum(model.losses)
            grads = tape.gradient(loss, self.backbone_vars + self.head_vars)
            split = len(self.backbone_vars)
            if self.backbone_vars:
                self.backbone_opt.apply_gradients(zip(grads[:split], self.backbone_vars,
                                                      strict=True))
            self.head_opt.apply_gradients(zip(grads[split:], self.head_vars, strict=True))
            return loss

        self._step = step

    def fit(self, x, y, *, epochs: int, batch_size: int, seed: int) -> dict[str, list[float]]:
        rs = np.random.RandomState(seed)
        losses = []
        for _ in range(epochs):
            order = rs.permutation(len(x))
            total = 0.0
            for start in range(0, len(x), batch_size):
                idx = order[start:start + batch_size]
                total += float(self._step(x[idx], y[idx])) * len(idx)
            losses.append(total / len(x))
        return {"loss": losses}


def labelled_subset(data, fraction: float, seed: int):
    """``data`` with a stratified ``fraction`` of its training labels (val and test whole)."""
    if not 0 < fraction <= 1:
        raise HyperparameterError(f"labelled_fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1:
        return data
    from sklearn.model_selection import train_test_split

    x, y = data.train
    keep_x, _, keep_y, _ = train_test_split(x, y, train_size=fraction, stratify=y,
                                            random_state=seed)
    return dataclasses.replace(data, train=(keep_x, keep_y))


def _with_backbone(parent: Run, data, seed: int):
    """A new model of ``parent``'s architecture for ``data`` with ``parent``'s backbone: every
    layer but the head and its family's task layers, where the shapes match. Returns the
    model, the backbone's layer names, the dataset the model is built for (the pretrained
    vocabulary) and its hyperparameters."""
    from kerasmodels.modeling import seed_everything

    source = parent.keras_model("fine-tuning")
    hparams = {k: v for k, v in parent.hparams.items() if k != "causal"}
    if "causal" in parent.hparams:
        hparams["causal"] = False  # the fine-tuned encoder reads both ways
    vocab = None
    if data.vocab_size:
        embedding = next((layer for layer in source.layers if layer.name == "embedding"), None)
        vocab = int(embedding.input_dim) if embedding is not None else data.vocab_size
        if vocab < data.vocab_size:
            raise HyperparameterError(f"the pretrained vocabulary ({vocab}) is smaller than "
                                      f"{data.name}'s ({data.vocab_size})")
    model_data = dataclasses.replace(data, vocab_size=vocab) if vocab else data
    seed_everything(seed)
    model = build_model(parent.arch, model_data, **hparams)
    backbone = []
    for layer in model.layers:
        family = FAMILIES.get(parent.record.arch.family)
        task_layers = family.task_layers if family else ()
        if layer.name in HEAD_LAYERS or layer.name in task_layers or not layer.weights:
            continue
        try:
            donor = source.get_layer(layer.name)
        except ValueError:
            continue
        if [w.shape for w in donor.get_weights()] == [w.shape for w in layer.get_weights()]:
            layer.set_weights(donor.get_weights())
            backbone.append(layer.name)
    if not backbone:
        raise HyperparameterError(f"{parent.id} shares no layer with a {parent.arch} for "
                                  f"{data.name}: nothing to transfer")
    for name in ("logits", "output"):  # the new head starts at zero: no confident wrong
        if any(layer.name == name for layer in model.layers):  # answers on large features
            head = model.get_layer(name)
            head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    return model, backbone, model_data, hparams


def finetune(pretrained: Run | str | Path, dataset: str | Dataset = "text", *, freeze: str = "encoder",
             epochs: int = 10, learning_rate: float = 1e-3, backbone_factor: float = 0.5,
             labelled_fraction: float = 1.0, batch_size: int = 32, seed: int = 0,
             dataset_options: dict[str, Any] | None = None, compare_scratch: bool = False,
             out_dir: str | Path | None = None) -> Run:
    """A new classifier head on a pretrained run's backbone, trained on a labelled dataset.

    ``freeze="encoder"`` trains the head only; ``"none"`` trains everything with two
    optimizers, the backbone at ``backbone_factor`` times ``learning_rate``. Any classifier
    run can be the backbone (a CNN trained on digits 0-4, fine-tuned to 5-9).

    Args:
        pretrained: the pretrained (or any classifier) run, or its folder.
        dataset: a labelled dataset name or a Dataset, with the backbone's input.
        freeze: ``encoder`` (train the head only) or ``none`` (train everything).
        epochs: fine-tuning epochs.
        learning_rate: the head's learning rate.
        backbone_factor: the backbone's learning rate as a share of the head's (``freeze=
            "none"``).
        labelled_fraction: the share of the training labels used, in (0, 1].
        batch_size: examples per step.
        seed: seeds the head, the labelled subset and the batches.
        dataset_options: options of a dataset given by name (``{"classes": [5, 6, 7, 8, 9]}``).
        compare_scratch: also train the same architecture from scratch on the same labels and
            budget, recorded beside (the baseline the fine-tuning must beat).
        out_dir: the runs folder (default: the pretrained run's).

    Returns:
        The fine-tuned run: its ``parent`` is the pretrained run, its recipe ``finetune``; the
        manifest's ``finetune`` records the backbone layers, the labels used and the scratch
        baseline when asked.

    Raises:
        RunError: ``pretrained`` is not a run.
        UnknownNameError: an unknown ``freeze`` or dataset.
        HyperparameterError: a dataset that is not a classification, inputs the backbone did
            not learn from, a vocabulary larger than the pretrained one, or a fraction outside
            (0, 1].

    Examples:
        >>> import kerasmodels as km
        >>> encoder = km.pretrain("transformer_small", "text", epochs=1, verbose=0)
        >>> tuned = km.finetune(encoder, "text", epochs=1, labelled_fraction=0.5)
        >>> tuned.manifest["recipe"], tuned.parent == encoder.id
        ('finetune', True)
    """
    from kerasmodels.data import load_dataset
    from kerasmodels.modeling import compile_for, evaluate, seed_everything
    from kerasmodels.optimizers import make_optimizer
    from kerasmodels.runs import new_manifest, save_run

    if freeze not in FREEZE:
        raise UnknownNameError("freeze", freeze, FREEZE)
    check_positive("epochs", epochs, integer=True)
    check_positive("learning_rate", learning_rate)
    parent = load_run(pretrained)
    data = load_dataset(dataset, **(dataset_options or {}))
    if data.task != "classification":
        raise HyperparameterError("finetune trains a classifier: give a classification dataset")
    trained_on = parent.record.dataset.preprocessing.get("kind")
    kind = data.preprocessing.get("kind")
    if trained_on and kind and trained_on != kind:
        raise HyperparameterError(f"{parent.id} learned from {trained_on} inputs and {data.name} "
                                  f"is {kind}: fine-tune on a dataset of the same kind")
    model, backbone, model_data, hparams = _with_backbone(parent, data, seed)
    subset = labelled_subset(data, labelled_fraction, seed)
    started = time.perf_counter()
    x, y = subset.train
    if freeze == "encoder":
        for name in backbone:
            model.get_layer(name).trainable = False
        compile_for(model, data.task, make_optimizer("adam", learning_rate))
        history = model.fit(x, y, validation_data=data.val, epochs=epochs,
                            batch_size=batch_size, verbose=0).history
        history = {k: [float(v) for v in values] for k, values in history.items()}
        for name in backbone:
            model.get_layer(name).trainable = True
    else:
        history = FineTuner(model, backbone, learning_rate, backbone_factor).fit(
            x, y, epochs=epochs, batch_size=batch_size, seed=seed)
    compile_for(model, data.task, make_optimizer("adam", learning_rate))
    seconds = time.perf_counter() - started
    record: dict[str, Any] = {"pretrained": parent.id, "freeze": freeze,
                              "backbone_layers": backbone, "backbone_factor":
                              backbone_factor if freeze == "none" else 0.0,
                              "labelled_fraction": labelled_fraction,
                              "labelled_examples": int(len(x)), "epochs": epochs,
                              "learning_rate": learning_rate}
    if compare_scratch:
        seed_everything(seed)
        scratch = build_model(parent.arch, model_data, **hparams)
        compile_for(scratch, data.task, make_optimizer("adam", learning_rate))
        scratch.fit(x, y, validation_data=data.val, epochs=epochs, batch_size=batch_size,
                    verbose=0)
        record["scratch"] = evaluate(scratch, data)
    out_dir = Path(out_dir) if out_dir is not None else parent.path.parent
    manifest = new_manifest(
        new_run_id(parent.arch, data.name, out_dir, "finetune"),
        arch={"name": parent.arch, "family": parent.record.arch.family,
              "hparams": hparams, "params": int(model.count_params())},
        dataset=model_data,
        training={"optimizer": {"name": "adam"}, "learning_rate": learning_rate,
                  "epochs": epochs, "epochs_run": epochs, "batch_size": batch_size,
                  "seed": seed, "seconds": round(seconds, 3), "strategy": "minibatch"},
        metrics=evaluate(model, data),
        parent=parent.id,
        recipe="finetune",
        finetune=record,
    )
    return save_run(model, manifest, history, out_dir, dataset=model_data)


__all__ = ["FREEZE", "OBJECTIVES", "finetune", "pretrain"]
