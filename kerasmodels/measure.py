"""How variants are measured against each other: interleaved latencies, throughput, and the
Pareto front of accuracy against size and latency.

Used by the benchmark, the sweep and the bench scripts; it imports neither.

Example:
    >>> from kerasmodels.measure import pareto_front
    >>> pareto_front([{"val_accuracy": 0.9, "bytes": 10, "gzip_bytes": 8, "p50_ms": 1.0},
    ...               {"val_accuracy": 0.8, "bytes": 20, "gzip_bytes": 9, "p50_ms": 2.0}])
    [True, False]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from kerasmodels.errors import check_positive

COSTS = ("bytes", "gzip_bytes", "p50_ms")  # raw bytes (flash), gzip bytes (download), latency
THROUGHPUT_SECONDS_PER_CALL = 0.0025  # the throughput window per latency call: 0.5 s at 200


def latencies(runners: dict[Any, Callable[[], Any]], *, calls: int = 200, per_round: int = 10,
              warmup: int = 5) -> dict[Any, tuple[float, float]]:
    """p50 and p90 wall time (ms) of ``calls`` calls of each zero-argument runner, interleaved.

    Every round times ``per_round`` calls of each runner in turn (the order rotates between
    rounds), so that a noisy neighbour or a frequency change hits all of them alike; the
    figures are medians over all rounds. Pass each predictor's ``runtime_call(example)`` to
    time the runtime alone, not the numpy around it.

    >>> figures = latencies({"noop": lambda: None}, calls=6, per_round=3)
    >>> sorted(figures)
    ['noop']
    """
    check_positive("calls", calls, integer=True)
    check_positive("per_round", per_round, integer=True)
    keys = list(runners)
    for key in keys:
        for _ in range(warmup):
            runners[key]()
    samples: dict[Any, list[float]] = {key: [] for key in keys}
    clock = time.perf_counter
    for r in range(-(-calls // per_round)):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:
            run, times = runners[key], samples[key]
            for _ in range(per_round):
                start = clock()
                run()
                times.append(clock() - start)
    return {key: (float(np.percentile(times, 50) * 1000), float(np.percentile(times, 90) * 1000))
            for key, times in samples.items()}


def throughput(predict, x: np.ndarray, seconds: float = 0.5) -> float:
    """Examples per second of ``predict`` over the whole batch ``x``, repeated for ``seconds``
    (at least once)."""
    predict(x)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predict(x)
        count += len(x)
    return count / (time.perf_counter() - start)


RESAMPLES = 1000  # bootstrap resamples of a paired difference
LEVEL = 0.95  # its confidence interval


def paired_interval(score: Callable[[np.ndarray], float], count: int, *,
                    resamples: int = RESAMPLES, level: float = LEVEL,
                    seed: int = 0) -> tuple[float, float, float]:
    """A paired difference and its bootstrap confidence interval.

    ``score(indices)`` is the difference of two models' figure on the same examples (a row's
    validation accuracy minus its parent's, say) measured on the examples at ``indices``;
    it is measured on all ``count`` of them, then on ``resamples`` resamples drawn with
    replacement (the same resamples for every call with the same ``seed`` and ``count``, so
    rows are compared on the same draws). Returns (difference, lower end, upper end) of the
    percentile interval at ``level``.

    >>> a = np.array([1, 1, 0, 1] * 50); b = np.array([1, 0, 0, 1] * 50)
    >>> diff, low, high = paired_interval(lambda i: a[i].mean() - b[i].mean(), len(a))
    >>> round(diff, 2), low > 0, high < 0.4
    (0.25, True, True)
    """
    check_positive("resamples", resamples, integer=True)
    draws = np.random.default_rng(seed).integers(0, count, size=(resamples, count))
    found = np.array([score(indices) for indices in draws], "float64")
    found = found[np.isfinite(found)]  # a draw the figure is undefined on (one class only)
    tail = (1 - level) / 2 * 100
    low, high = (np.percentile(found, [tail, 100 - tail]) if len(found)
                 else (float("nan"), float("nan")))
    return float(score(np.arange(count))), float(low), float(high)


def pareto_front(rows: list[dict[str, Any]], score: str = "val_accuracy",
                 costs: tuple[str, ...] = COSTS) -> list[bool]:
    """For each row: is no other row at least as good on ``score`` (validation accuracy by
    default) and every one of ``costs`` (raw bytes, gzip bytes, latency), and better on one?"""
    def beats(a, b):
        at_least = a[score] >= b[score] and all(a[c] <= b[c] for c in costs)
        better = a[score] > b[score] or any(a[c] < b[c] for c in costs)
        return at_least and better

    return [not any(beats(other, row) for other in rows if other is not row) for row in rows]


__all__ = ["COSTS", "THROUGHPUT_SECONDS_PER_CALL", "latencies", "paired_interval", "pareto_front",
           "throughput"]
