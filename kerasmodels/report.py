"""Plain-text tables for the terminal (the CLI and the benchmark scripts print these)."""

from __future__ import annotations

import json
import logging
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def kilobytes(size: int) -> float:
    """Bytes in kB, where a kB is 1,000 bytes in every table kerasmodels prints.

    >>> kilobytes(55_372)
    55.4
    """
    return round(size / 1000, 1)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows of dicts as an aligned text table (numbers right-aligned).

    >>> print(format_table([{"run": "a", "acc": 0.5}, {"run": "bb", "acc": 0.25}]))
    run     acc
    a    0.5000
    bb   0.2500
    """
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    cells = [[format_value(r.get(c)) for c in columns] for r in rows]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows)
               for c in columns]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(columns), *(line(row) for row in cells)])


# CPU features that decide which kernels XNNPACK, oneDNN and ONNX Runtime can use
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
             "avx512_bf16", "amx_int8", "asimd", "asimddp")


def machine() -> dict[str, Any]:
    """The machine a figure was measured on: CPU model and SIMD flags, cores, platform.

    >>> sorted(machine())[:3]
    ['cpu', 'cpu_flags', 'cpus']
    """
    model, flags, mhz = platform.processor() or platform.machine(), set(), None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags |= set(value.split())
            elif key.strip() == "cpu MHz" and mhz is None:
                mhz = float(value)
    except (OSError, ValueError):
        pass
    return {"cpu": model, "cpu_flags": [f for f in CPU_FLAGS if f in flags],
            "cpus": os.cpu_count(), "cpu_mhz": mhz, "platform": platform.platform(),
            "python": platform.python_version()}


FMA_UNITS = 2  # per core: Intel's Xeons since Skylake-SP and AMD's Zen 4 have two


def latency_floor_ms(multiply_adds: int, int8: bool, info: dict[str, Any] | None = None
                     ) -> float | None:
    """The least time one core can spend on ``multiply_adds`` at its vector width and clock
    (read from the machine: AVX-512 does 16 float32 multiply-adds per instruction, AVX2 with
    FMA 8, and VNNI 64 int8 ones), with ``FMA_UNITS`` instructions per cycle and nothing else
    (no memory traffic, no overhead): a bound the measured latency can approach, never beat.
    None when the clock is unknown."""
    info = info or machine()
    flags, mhz = set(info.get("cpu_flags", [])), info.get("cpu_mhz")
    if not mhz:
        return None
    lanes = 16 if "avx512f" in flags else 8 if {"avx2", "fma"} <= flags else 4
    if int8 and ("avx512_vnni" in flags or "avx_vnni" in flags):
        lanes *= 4  # four int8 products summed into each 32-bit lane
    return multiply_adds / (lanes * FMA_UNITS * mhz * 1e6) * 1e3


def describe_machine(info: dict[str, Any] | None = None) -> str:
    """One line for next to a latency table: ``AMD EPYC ... (2 cores; avx2, avx512_vnni)``."""
    info = info or machine()
    return f"{info.get('cpu')} ({info.get('cpus')} cores; {', '.join(info.get('cpu_flags', []))})"


def bench_options(parser, out: str | Path, quick: str) -> None:
    """The two options every ``scripts/bench_*.py`` has: ``--out`` (the JSON file, by default
    ``out``) and ``--quick`` (``quick`` says what it shrinks; CI runs it to check the script).
    A script's logs (and the library's) go to stderr."""
    from kerasmodels.logs import configure

    configure(0)
    parser.add_argument("--out", type=Path, default=Path(out), help=f"default: {out}")
    parser.add_argument("--quick", action="store_true", help=f"{quick} (CI: the script works)")


def write_results(path: str | Path, **results: Any) -> Path:
    """Write a benchmark's results as JSON, with the machine they were measured on."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), **results}, indent=2) + "\n")
    logging.getLogger(__name__).info("wrote %s", path)
    return path
