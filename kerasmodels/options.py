"""Options declared once: the default, what is accepted, what it means, and a search range.

``km.train``, the CLI's flags, the dashboard's widgets and the search space read
``TRAINING``; ``km.compress`` checks recipe options against ``COMPRESSION`` (each
step's own defaults stay in its signature, the one place they are written); ``km.export``
checks its options against ``kerasmodels.formats.OPTIONS``. No list of choices or default is
written anywhere else. The module imports neither TensorFlow nor Keras.

>>> from kerasmodels.options import TRAINING
>>> TRAINING["learning_rate"].default, TRAINING["strategy"].choices
(0.001, ('minibatch', 'batch', 'sgd'))
>>> TRAINING["epochs"].check(0)
Traceback (most recent call last):
...
kerasmodels.errors.HyperparameterError: epochs must be an integer from 1 to 100,000, got 0
"""

from __future__ import annotations

import inspect
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from kerasmodels.errors import HyperparameterError, UnknownNameError


@dataclass(frozen=True)
class Option:
    """One option: ``kind`` (int, float, str, bool, dict), its range or choices, a default.

    ``low``/``high`` bound numbers (``low_open``: strictly above ``low``); ``choices`` is a
    tuple or a function returning one (read when asked); ``prefixes`` are also accepted before
    any text (``keras:`` for Keras' own optimizers); ``optional``: None means "unset";
    ``search`` is the range or the list a hyperparameter search samples from.
    """

    name: str
    default: Any
    kind: type
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple | Callable[[], Sequence[Any]] = ()
    prefixes: tuple[str, ...] = ()
    optional: bool = False
    max_length: int | None = None
    search: tuple | list | None = None

    @property
    def options(self) -> tuple:
        """The choices (resolved if declared as a function)."""
        return tuple(self.choices() if callable(self.choices) else self.choices)

    @property
    def expected(self) -> str:
        """What the option accepts, in words (for errors and help)."""
        if self.choices:
            extra = f", or {' / '.join(p + '<name>' for p in self.prefixes)}" if self.prefixes else ""
            return f"one of {', '.join(map(str, self.options))}{extra}"
        if self.kind is bool:
            return "True or False"
        if self.kind is str:
            return f"a non-empty text of at most {self.max_length:,} characters"
        if self.kind is dict:
            return "a dict of options"
        if self.kind is object:  # a model or a structure: the step that takes it checks it
            return "what its meaning says (the step checks it)"
        noun = "an integer" if self.kind is int else "a number"
        if self.low is not None and self.high is not None and not self.low_open:
            return f"{noun} from {_number(self.low)} to {_number(self.high)}"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_number(self.low)}")
        if self.high is not None:
            parts.append(f"<= {_number(self.high)}")
        return f"{noun} {' and '.join(parts)}".strip()

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if self.kind is object:  # a model or a structure: the step that takes it checks it
            return True
        if self.choices:
            return value in self.options or (isinstance(value, str) and any(
                value.startswith(p) and len(value) > len(p) for p in self.prefixes))
        if self.kind is bool or isinstance(value, bool):
            return self.kind is bool and isinstance(value, bool)
        if self.kind is str:
            return isinstance(value, str) and bool(value.strip()) and \
                len(value) <= (self.max_length or 1000)
        if self.kind is dict:
            return isinstance(value, dict)
        if not isinstance(value, int if self.kind is int else (int, float)):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def check(self, value: Any) -> Any:
        """``value`` if accepted, else a HyperparameterError (an UnknownNameError for a name
        outside the choices) that says what is accepted."""
        if self.accepts(value):
            return value
        if isinstance(value, float) and not math.isfinite(value):
            raise HyperparameterError(f"{self.name} must be finite, got {value!r}: "
                                      f"{self.name} must be {self.expected}")
        if self.choices and isinstance(value, str):
            raise UnknownNameError(self.name.replace("_", " "), value, self.options)
        raise HyperparameterError(f"{self.name} must be {self.expected}, got {value!r}")

    @property
    def flag(self) -> str:
        """The command-line flag: ``--learning-rate``."""
        return "--" + self.name.replace("_", "-")

    def described(self) -> str:
        """The help text with the default, as the CLI and the dashboard show it."""
        default = "" if self.default is None else f" (default {self.default!r})"
        return f"{self.help}{default}"


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def option_table(*options: Option) -> dict[str, Option]:
    return {o.name: o for o in options}


def check_all(table: dict[str, Option], given: dict[str, Any], kind: str) -> dict[str, Any]:
    """``given`` checked against ``table``: every name known, every value accepted."""
    for name, value in given.items():
        if name not in table:
            raise UnknownNameError(kind, name, table)
        table[name].check(value)
    return given


_ARG = re.compile(r"^    (\*{0,2}\w+)( \(.*\))?:")
WIDTH = 96


def _entry(name: str, text: str) -> list[str]:
    return textwrap.wrap(f"{name}: {text}", WIDTH, initial_indent="    ",
                         subsequent_indent="        ", break_on_hyphens=False)


def with_option_args(doc: str, parameters: Sequence[str], table: dict[str, Option],
                     variadic: bool = False) -> str:
    """``doc`` with its ``Args:`` section completed from ``table``'s help.

    A parameter the section does not describe and ``table`` declares gets the option's help
    and default, in signature order; with ``variadic``, the ``**`` parameter gets the list of
    every option in the table. What the docstring says itself is kept.

    Args:
        doc: a Google-style docstring.
        parameters: the function's parameter names in order, ``*``/``**`` prefixed.
        table: an option table (``TRAINING``, ``COMPRESSION``).
        variadic: describe the ``**`` parameter as the table's options.

    Returns:
        The docstring, cleaned of its indentation, with the entries added.

    Raises:
        ValueError: ``doc`` has no ``Args:`` section to complete.

    Examples:
        >>> doc = "Fit.\\n\\nArgs:\\n    x: the data.\\n"
        >>> print(with_option_args(doc, ["x", "seed"], TRAINING))
        Fit.
        <BLANKLINE>
        Args:
            x: the data.
            seed: seeds the data order, the initial weights and dropout (default 0).
    """
    lines = inspect.cleandoc(doc).splitlines()
    if "Args:" not in lines:
        raise ValueError("the docstring has no Args: section to complete")
    start = lines.index("Args:") + 1
    end = next((i for i in range(start, len(lines))
                if lines[i] and not lines[i].startswith(" ")), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    entries: dict[str, list[str]] = {}
    current = None
    for line in lines[start:end]:
        match = _ARG.match(line)
        if match:
            current = match.group(1)
            entries[current] = []
        if current is not None:
            entries[current].append(line)
    section: list[str] = []
    for name in parameters:
        bare = name.lstrip("*")
        if name in entries:
            section += entries.pop(name)
        elif name.startswith("**") and variadic:
            listed = "; ".join(f"``{o.name}``: {o.help}" for o in table.values())
            section += _entry(name, f"the options, each declared in the option table, any of: {listed}.")
        elif not name.startswith("*") and bare in table:
            section += _entry(name, table[bare].described() + ".")
    for rest in entries.values():  # described, though not in the signature: kept
        section += rest
    return "\n".join(lines[:start] + section + lines[end:])


F = TypeVar("F", bound=Callable[..., Any])


def documented(table: dict[str, Option], variadic: bool = False) -> Callable[[F], F]:
    """A decorator: the function's ``Args:`` completed from ``table`` (``with_option_args``),
    so that an option's help is written once, in its table.

    The docs site's API pages apply the same function to the source (``docs/griffe_options.py``).

    Args:
        table: an option table.
        variadic: describe the ``**`` parameter as the table's options.

    Returns:
        The decorator.

    Raises:
        ValueError: the function's docstring has no ``Args:`` section.

    Examples:
        >>> @documented(TRAINING)
        ... def fit(x, seed=0):
        ...     \"\"\"Fit.
        ...
        ...     Args:
        ...         x: the data.
        ...     \"\"\"
        >>> "seeds the data order" in fit.__doc__
        True
    """
    def decorate(function: F) -> F:
        names = [("**" if p.kind is p.VAR_KEYWORD else "*" if p.kind is p.VAR_POSITIONAL
                  else "") + p.name for p in inspect.signature(function).parameters.values()]
        function.__doc__ = with_option_args(function.__doc__ or "", names, table, variadic)
        return function

    return decorate


def _optimizer_names() -> list[str]:
    from kerasmodels.optimizers import optimizer_names

    return optimizer_names()


MAX_EPOCHS = 100_000

TRAINING = option_table(
    Option("epochs", 20, int, "passes over the training data; the architecture's default "
           "first, this for your own model", low=1, high=MAX_EPOCHS),
    Option("batch_size", 32, int, "examples per step with the minibatch strategy; the "
           "architecture's default first", low=1, high=1_000_000, search=[16, 32, 64, 128]),
    Option("strategy", "minibatch", str, "minibatch (batch-size examples per step), batch "
           "(full-batch gradient descent: one step per epoch) or sgd (one example per step)",
           choices=("minibatch", "batch", "sgd")),
    Option("optimizer", "adam", str, "the optimizer, from its formula (keras:<name> for "
           "Keras' built-in one)", choices=_optimizer_names, prefixes=("keras:",),
           search=["adam", "rmsprop", "momentum", "sgd"]),
    Option("learning_rate", 1e-3, float, "the step size (too large diverges: the run stops "
           "with the epoch and step); the architecture's default first", low=0.0,
           low_open=True, search=(1e-4, 3e-2, "log")),
    Option("schedule", "constant", str, "how the learning rate changes over the epochs",
           choices=("constant", "step", "exponential", "cosine", "plateau"),
           search=["constant", "cosine"]),
    Option("regularizer", "none", str, "a weight penalty on every kernel",
           choices=("none", "l1", "l2", "l1l2"), search=["none", "l2", "l1"]),
    Option("reg_strength", 1e-4, float, "the regularizer's strength (lambda)", low=0.0,
           high=1e3, search=(1e-6, 1e-3, "log")),
    Option("reg_warmup_epochs", None, int, "ramp the regularization strength up linearly "
           "over this many epochs", low=1, high=MAX_EPOCHS, optional=True),
    Option("seed", 0, int, "seeds the data order, the initial weights and dropout", low=0,
           high=2**31 - 1),
    Option("early_stopping", None, int, "stop after this many epochs without a better "
           "validation loss, keeping the best weights", low=1, high=MAX_EPOCHS, optional=True),
    Option("checkpoint_every", 10.0, float, "seconds between saves of the resumable state, "
           "at an epoch's end (0: every epoch)", low=0.0, high=1e6),
)
"""What ``km.train`` takes besides the architecture, the data and its hyperparameters."""

COMPRESSION = option_table(
    Option("epochs", None, int, "fine-tuning epochs of each step", low=1, high=MAX_EPOCHS),
    Option("learning_rate", None, float, "fine-tuning learning rate of each step", low=0.0,
           low_open=True, high=10.0),
    Option("batch_size", None, int, "examples per fine-tuning step", low=1, high=1_000_000),
    Option("seed", None, int, "seeds the fine-tuning", low=0, high=2**31 - 1),
    Option("target_sparsity", None, float, "share of weights set to zero (prune)", low=0.0,
           high=0.99),
    Option("schedule", None, str, "how sparsity grows (prune)",
           choices=("polynomial", "constant")),
    Option("frequency", None, int, "steps between pruning updates (prune)", low=1,
           high=1_000_000, optional=True),
    Option("structured_2_4", None, bool, "keep 2 of every 4 weights (prune)"),
    Option("layer_sparsity", None, dict, "{layer name: sparsity} (prune)", optional=True),
    Option("prune_embeddings", None, bool, "prune embedding tables too (prune)"),
    Option("clusters", None, int, "distinct values per weight tensor (cluster)", low=2,
           high=256),
    Option("student", None, object, "an architecture name or a Keras model (distill)",
           optional=True),
    Option("student_hparams", None, dict, "the student architecture's hyperparameters "
           "(distill)", optional=True),
    Option("width", None, float, "the student's share of the teacher's channels (distill)",
           low=0.0, low_open=True, high=1.0),
    Option("temperature", None, float, "softens the teacher's outputs (distill)", low=0.0,
           low_open=True, high=100.0),
    Option("alpha", None, float, "weight of the teacher's soft targets (distill)", low=0.0,
           high=1.0),
    Option("keep", None, object, "share of channels kept, or {layer name: share} "
           "(channel_prune)"),
    Option("distill", None, bool, "learn from the parent's outputs too (channel_prune)"),
)
"""Every option a compression step takes; each step's default is its signature's."""


__all__ = ["COMPRESSION", "MAX_EPOCHS", "Option", "TRAINING", "check_all", "documented",
           "option_table", "with_option_args"]
