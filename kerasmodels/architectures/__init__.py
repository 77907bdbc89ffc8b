"""Architectures: one registry, one module per family.

Each family module registers its ``kerasmodels.architectures.registry.Family`` (what
search, fine-tuning, pretraining and the lab ask of it) and its builders. No other part of
kerasmodels names a family or an architecture: they read these tables, and the roles below.

>>> import kerasmodels as km
>>> km.build_model("cnn", input_shape=(24, 24, 3), num_classes=10).count_params()
315722
"""

from __future__ import annotations

from typing import Any

from kerasmodels.architectures import (  # noqa: F401  (registers)
    autoencoder,
    cnn,
    dense,
    kws,
    rnn,
    tiny,
    transformer,
)
from kerasmodels.architectures.common import ProblemSpec
from kerasmodels.architectures.registry import FAMILIES, REGISTRY, Architecture, Family
from kerasmodels.data import Dataset, load_dataset
from kerasmodels.errors import HyperparameterError, UnknownNameError

DEFAULT_ARCH = "cnn"  # km.train and km.find_learning_rate when not told
QUICK_ARCH = "mlp"  # quick studies: km.search, the lab's comparisons, the dashboard's Train page
PRETRAIN_ARCH = "transformer"  # km.pretrain when not told
DEMO_ARCHS = ("cnn", "mlp", "rnn", "transformer")  # `kerasmodels demo`, each on its example
# data; the first one is compressed, exported and benchmarked


def get_architecture(name: str) -> Architecture:
    """Look an architecture up by name.

    Args:
        name: a registered architecture.

    Returns:
        Its registry row: ``builder``, ``hparams`` (the defaults), ``family``, ``description``
        and the training defaults.

    Raises:
        UnknownNameError: no architecture has that name (the closest one suggested).

    Examples:
        >>> import kerasmodels as km
        >>> km.get_architecture("cnn").hparams
        {'filters': (32, 64), 'kernel_size': 3, 'dense_units': 128, 'dropout': 0.0}
    """
    if name not in REGISTRY:
        raise UnknownNameError("architecture", name, REGISTRY)
    return REGISTRY[name]


def small_variant(name: str) -> str:
    """The small variant of an architecture's family, the default distillation student.

    Args:
        name: a registered architecture.

    Returns:
        The family's small architecture (``cnn`` -> ``cnn_small``), or ``name`` itself when
        its family has none.

    Raises:
        UnknownNameError: no architecture has that name.

    Examples:
        >>> import kerasmodels as km
        >>> km.small_variant("cnn"), km.small_variant("linear")
        ('cnn_small', 'linear')
    """
    arch = get_architecture(name)
    for other in REGISTRY.values():
        if other.small_of == arch.name or (other.small_of and other.family == arch.family):
            return other.name
    return name


def architecture_names() -> list[str]:
    """Every registered architecture, what ``arch`` may name in ``km.train`` and the CLI.

    Returns:
        The names in registry order: the classic families, their small variants and MLPerf
        Tiny's reference models.

    Examples:
        >>> import kerasmodels as km
        >>> {"cnn", "mlp", "rnn", "transformer", "ds_cnn", "resnet8"} <= set(km.architecture_names())
        True
    """
    return list(REGISTRY)


def family_of(arch: str) -> Family:
    """The ``Family`` row of an architecture (or of a family name)."""
    return FAMILIES[arch] if arch in FAMILIES else FAMILIES[get_architecture(arch).family]


def default_student(arch: str) -> str | None:
    """The architecture a run of ``arch`` is distilled into by default: its registered small
    variant, or None (then a narrower copy of the teacher)."""
    return next((a.name for a in REGISTRY.values() if a.small_of == arch), None)


def lab_architectures() -> list[str]:
    """The architectures the dashboard's lab offers (quick enough to train while one waits)."""
    return [a.name for a in REGISTRY.values() if a.lab]


def example_dataset(arch: str) -> str:
    """The built-in dataset ``arch`` is shown on (its family's example)."""
    return family_of(arch).example


def problem_spec(dataset: Dataset | str | None = None, *, input_shape=None, num_classes=None,
                 task=None, vocab_size=None) -> ProblemSpec:
    """The ProblemSpec of a dataset, or of explicit shapes (which win where both are given)."""
    if isinstance(dataset, str):
        dataset = load_dataset(dataset)
    if dataset is not None:
        input_shape = input_shape or dataset.input_shape
        num_classes = num_classes or dataset.num_classes
        task = task or dataset.task
        vocab_size = vocab_size or dataset.vocab_size
    if input_shape is None:
        raise HyperparameterError("build_model needs a dataset or input_shape=(...)")
    try:
        input_shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise HyperparameterError(f"input_shape must be a tuple of ints, got {input_shape!r}") from None
    if not input_shape or any(d <= 0 for d in input_shape):
        raise HyperparameterError(f"input_shape must be positive sizes, got {input_shape}")
    task = task or ("classification" if num_classes else "regression")
    if task == "classification" and (not isinstance(num_classes, int) or num_classes < 2):
        raise HyperparameterError(f"a classifier needs num_classes >= 2, got {num_classes!r}")
    return ProblemSpec(input_shape, num_classes, task, vocab_size)


def build_model(arch: str, dataset: Dataset | str | None = None, *,
                input_shape: tuple[int, ...] | None = None, num_classes: int | None = None,
                task: str | None = None, vocab_size: int | None = None, **hparams: Any) -> Any:
    """Build an uncompiled Keras model (tf_keras) of a registered architecture.

    Args:
        arch: a registered architecture (``km.architecture_names()``).
        dataset: a Dataset or its name: the input shape, classes, task and vocabulary come from
            it. Or give them yourself (``input_shape`` and ``num_classes``).
        input_shape: one example's shape, without the batch axis.
        num_classes: the classes of a classifier.
        task: ``classification`` (default), ``regression`` or ``anomaly``.
        vocab_size: the vocabulary of a token model.
        **hparams: the architecture's hyperparameters (``km.get_architecture(arch).hparams``
            lists them with their defaults).

    Returns:
        The model, uncompiled and untrained (``km.train`` compiles and fits it).

    Raises:
        UnknownNameError: an unknown architecture or hyperparameter.
        HyperparameterError: a hyperparameter value the architecture refuses.

    Examples:
        >>> import kerasmodels as km
        >>> km.build_model("mlp", input_shape=(8, 8, 1), num_classes=10).output_shape
        (None, 10)
        >>> km.build_model("cnn", input_shape=(24, 24, 3), num_classes=10).count_params()
        315722
    """
    spec_of = get_architecture(arch)
    spec_of.check_hparams(hparams)
    spec = problem_spec(dataset, input_shape=input_shape, num_classes=num_classes, task=task,
                        vocab_size=vocab_size)
    return spec_of.builder(spec, **hparams)


__all__ = ["DEFAULT_ARCH", "DEMO_ARCHS", "FAMILIES", "PRETRAIN_ARCH", "QUICK_ARCH", "REGISTRY",
           "ProblemSpec", "architecture_names", "build_model", "default_student",
           "example_dataset", "family_of", "get_architecture", "lab_architectures",
           "problem_spec", "small_variant"]
