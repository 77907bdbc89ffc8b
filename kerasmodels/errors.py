"""Errors that name the problem and the fix.

Every entry point (API, CLI, dashboard) raises or shows these; the CLI prints their message
as one line. They subclass ``ValueError`` so callers can catch them the usual way.

>>> from kerasmodels.errors import UnknownNameError
>>> str(UnknownNameError("architecture", "cnnn", ["cnn", "mlp"]))
"unknown architecture 'cnnn': did you mean 'cnn'? Choose one of: cnn, mlp"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class KerasModelsError(ValueError):
    """The base of every error kerasmodels raises for bad input or failed work: one line that
    names the problem and the fix, which the CLI prints as it is (exit code 2 for a usage
    error, 1 for failed work) and the dashboard shows in place.

    It subclasses ``ValueError``, so ``except ValueError`` catches it too.

    Args:
        message: the problem and the fix, in one line.

    Raises:
        KerasModelsError: raised, never raising.

    Examples:
        >>> import kerasmodels as km
        >>> try:
        ...     km.build_model("cnnn", "digits")
        ... except km.KerasModelsError as error:
        ...     print(error)
        unknown architecture 'cnnn': did you mean 'cnn'? Choose one of: ...
    """

    def __init__(self, message: str = "") -> None:
        super().__init__(message)


class UnknownNameError(KerasModelsError):
    """An unknown architecture, dataset, optimizer, ... name."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]):
        choices = sorted(choices)
        close = difflib.get_close_matches(str(name), choices, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        super().__init__(f"unknown {kind} {name!r}: {hint}Choose one of: {', '.join(choices)}")
        self.kind, self.name, self.choices = kind, name, choices


class DatasetError(KerasModelsError):
    """A dataset that cannot be loaded as asked."""


class HyperparameterError(KerasModelsError):
    """An impossible hyperparameter (negative epochs, batch size 0, ...)."""


class InputShapeError(KerasModelsError):
    """Input whose shape or dtype does not fit the model."""


class UploadError(KerasModelsError):
    """A file that is not what was asked for: not an image, too large, not a zip of folders."""


class RunError(KerasModelsError):
    """A run directory that is missing, incomplete or corrupt."""


class ModelFileError(KerasModelsError):
    """An exported model file (.tflite, .onnx) that is missing, corrupt or of another kind."""


class ExportError(KerasModelsError):
    """A model that a format cannot hold, or an export whose output disagrees with Keras.

    Raised by ``km.export`` after the formats that passed were published: ``artifacts``
    lists them (empty when none did)."""

    artifacts: list = []


class ParityError(ExportError):
    """An exported file whose outputs disagree with its Keras model beyond its format's
    floor (``parity`` holds what was measured)."""

    def __init__(self, message: str, parity: dict | None = None):
        super().__init__(message)
        self.parity = parity or {}


class ConverterCrashError(ExportError):
    """A converter that killed the process it ran in (a worker: yours is unharmed), or that
    failed with an error that is a bug rather than a limit of its format."""


class TrainingDivergedError(KerasModelsError):
    """The loss became NaN or infinite: the run is marked failed and not saved."""


def check_positive(name: str, value, *, allow_zero: bool = False, integer: bool = False,
                   at_most: float | None = None):
    """Raise HyperparameterError unless ``value`` is a positive (or non-negative) number, and
    at most ``at_most`` when given.

    >>> check_positive("epochs", 3, integer=True)
    3
    """
    kind = "integer" if integer else "number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise HyperparameterError(f"{name} must be a {kind}, got {value!r}")
    if value != value or (value < 0 if allow_zero else value <= 0):  # NaN or out of range
        bound = ">= 0" if allow_zero else "> 0"
        raise HyperparameterError(f"{name} must be {bound}, got {value!r}: pass a value {bound}")
    if value in (float("inf"), float("-inf")):
        raise HyperparameterError(f"{name} must be finite, got {value!r}")
    if at_most is not None and value > at_most:
        raise HyperparameterError(f"{name} must be at most {at_most:,}, got {value!r}")
    return value


class UnsafeModelError(KerasModelsError):
    """A model file that would run code or build layers nobody vouched for: refused unopened."""


class ForeignClassError(UnsafeModelError):
    """A model that names a class from outside Keras and kerasmodels (a layer of your own):
    refused from a file; a model object of yours goes through the graph import instead."""


class DistributionError(KerasModelsError):
    """A cluster spec or a distributed run that cannot work as asked."""


class UnsupportedLayerError(KerasModelsError):
    """A model with a layer (or an option of one) that kerasmodels cannot carry over."""


class StorageError(KerasModelsError):
    """A search storage that cannot be used: a malformed URL, a database that cannot be
    reached, a study made for another search."""


class DocsError(KerasModelsError):
    """The documentation site cannot be built here: no source checkout, MkDocs missing, or a
    page with a broken link or reference."""


def check_listen_address(port: int, address: str) -> None:
    """Refuse a port or an address a server cannot listen on, before any work (the dashboard
    and the docs site).

    >>> check_listen_address(8501, "127.0.0.1")
    >>> check_listen_address(70000, "127.0.0.1")
    Traceback (most recent call last):
    ...
    kerasmodels.errors.HyperparameterError: --port must be in 1..65535, got 70000
    """
    import ipaddress

    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise HyperparameterError(f"--port must be in 1..65535, got {port}")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise HyperparameterError(f"--address must be an IP address such as 127.0.0.1 or "
                                  f"0.0.0.0, got {address!r}") from None
