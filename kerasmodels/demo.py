"""The demo: the registry's demo architectures trained on their example data, the first one's
distilled and quantization-aware children, their phone and microcontroller files, and a
benchmark of the family. What ``kerasmodels demo`` builds before it opens the dashboard.

Example:
    >>> import kerasmodels as km
    >>> from kerasmodels.demo import build_demo
    >>> runs = build_demo("saved_models", quick=True)  # doctest: +SKIP
    >>> [run.arch for run in runs]  # doctest: +SKIP
    ['cnn', 'mlp', 'rnn', 'transformer', 'cnn_small', 'cnn']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kerasmodels.layout import RUNS_DIR
from kerasmodels.logs import get_logger
from kerasmodels.runs import Run, list_runs

LOG = get_logger(__name__)
DEMO_RECIPES = ("distill", "qat")  # the first demo model's children


def build_demo(runs_dir: str | Path = RUNS_DIR, *, quick: bool = False, force: bool = False,
               progress: bool = True) -> list[Run]:
    """Train the demo models into ``runs_dir`` unless it already holds runs.

    Args:
        runs_dir: where the runs go.
        quick: one epoch each, ten benchmark calls (a smoke test, not a model to keep).
        force: train them even if ``runs_dir`` has runs.
        progress: progress bars.

    Returns:
        The runs made (none when ``runs_dir`` already had some and ``force`` is False).
    """
    import kerasmodels as km
    from kerasmodels.architectures import DEMO_ARCHS, example_dataset
    from kerasmodels.formats import format_names

    existing = list_runs(runs_dir)
    if existing and not force:
        LOG.info("%d runs already in %s (use --force to train again)", len(existing), runs_dir)
        return []
    budget: dict[str, Any] = {"epochs": 1} if quick else {}
    steps = len(DEMO_ARCHS) + 1
    trained: list[Run] = []
    for number, arch in enumerate(DEMO_ARCHS, start=1):
        LOG.info("== step %d of %d: %s on %s", number, steps, arch, example_dataset(arch))
        run = km.train(arch, example_dataset(arch), out_dir=runs_dir, verbose=int(progress),
                       **budget)
        assert run is not None  # not distributed: this process saves the run
        trained.append(run)
    main = trained[0]
    LOG.info("== step %d of %d: the %s's variants: %s, exports, benchmark", steps, steps,
             main.id, ", ".join(DEMO_RECIPES))
    children = [km.compress(main, recipe, progress=progress, **budget)
                for recipe in DEMO_RECIPES]
    for member in (main, *children):
        km.export(member, format_names(quick=True), progress=progress)
    km.benchmark(main, calls=10 if quick else 50, progress=progress)
    return [*trained, *children]


__all__ = ["build_demo"]
