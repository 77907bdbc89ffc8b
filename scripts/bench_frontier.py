"""The accuracy frontier against size and against latency: channel pruning and its chains.

For the digits CNN (8x8x1) and the architecture chapter's CNN on digits resized to 24x24x3:
trains the parent with its default budget, then ``km.sweep`` (every child exported to the
TFLite sweep formats, timed in LiteRT, one thread, interleaved) over channel pruning at several
widths, its chains with magnitude pruning and QAT, and the earlier recipes for comparison.
Everything is chosen on the validation split and reported on the test split:

- the smallest artifact (gzip) whose paired difference from the parent's validation accuracy
  is within 0.5 pp at the lower end of its 95% bootstrap interval (the sweep's rule), against
  the parent's float32 TFLite (target: 20x smaller);
- the fastest artifact within 0.5 pp by the same rule, against the parent at the same precision (float32
  against float32, int8 against int8; target: 2x faster).

Writes bench-results/frontier.json and the plot docs/frontier.png.

    .venv/bin/python scripts/bench_frontier.py
    .venv/bin/python scripts/bench_frontier.py --quick     # CI: checks the script works
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

BUDGET = 0.005  # half a percentage point
SMALLER_TARGET, FASTER_TARGET = 20.0, 2.0
CASES = {"cnn/digits 8x8x1": {}, "cnn/digits 24x24x3 (chapter)": {"image_size": (24, 24),
                                                                    "channels": 3}}
RECIPES = [
    *({"recipe": "channel_prune", "keep": keep, "epochs": 15} for keep in (0.5, 0.35, 0.25)),
    *({"recipe": "channel_prune+qat", "keep": keep, "epochs": 15} for keep in (0.5, 0.35, 0.25)),
    {"recipe": "channel_prune+prune+qat", "keep": 0.5, "target_sparsity": 0.6, "epochs": 15},
    {"recipe": "prune+cluster+qat"},
    {"recipe": "distill"},
]
QUICK_RECIPES = [{"recipe": "channel_prune", "keep": 0.5, "epochs": 1}]
COLUMNS = ["recipe", "options", "format", "bytes", "gzip_bytes", "x_smaller", "multiply_adds",
           "latency_floor_ms", "p50_ms", "val_accuracy", "test_accuracy", "pareto"]


def figures(result: dict) -> dict:
    """The two figures of a sweep, chosen on validation, reported on test."""
    from kerasmodels.compression.sweep import choose

    rows, parent = result["rows"], result["parent"]
    eligible = [r for r in rows if r["status"] == "ok" and r["val_diff_low"] >= -BUDGET - 1e-9]
    smallest = choose(eligible, BUDGET)
    fastest = min(eligible, key=lambda r: (r["p50_ms"], r["gzip_bytes"])) if eligible else None
    out = {"parent_val_accuracy": result["parent_val_accuracy"],
           "parent_test_accuracy": result["parent_accuracy"]}
    if smallest:
        out["smallest"] = {**pick(smallest), "x_smaller": smallest["x_smaller"],
                           "test_pp": round(100 * (smallest["test_accuracy"]
                                                   - result["parent_accuracy"]), 2)}
    if fastest:
        same = next(r for r in rows if r["run"] == parent and r["format"] == fastest["format"])
        out["fastest"] = {**pick(fastest), "parent_p50_ms": same["p50_ms"],
                          "x_faster": round(same["p50_ms"] / fastest["p50_ms"], 2),
                          "test_pp": round(100 * (fastest["test_accuracy"]
                                                  - result["parent_accuracy"]), 2)}
    out["by_format"] = []  # in each format: the fastest within the budget against the parent
    for fmt in dict.fromkeys(r["format"] for r in rows):
        mine = [r for r in eligible if r["format"] == fmt]
        base = next((r for r in rows if r["run"] == parent and r["format"] == fmt), None)
        if mine and base:
            best = min(mine, key=lambda r: r["p50_ms"])
            out["by_format"].append({"format": fmt, "recipe": best["recipe"],
                                     "options": best["options"], "p50_ms": best["p50_ms"],
                                     "parent_p50_ms": base["p50_ms"],
                                     "x_faster": round(base["p50_ms"] / best["p50_ms"], 2),
                                     "latency_floor_ms": best["latency_floor_ms"]})
    return out


def delegate_check(result: dict, calls: int) -> list[dict]:
    """The parent's float32 and int8 files timed with LiteRT's default delegate (XNNPACK) and
    without it: where the two agree, the delegate did not take the graph."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from kerasmodels.measure import latencies

    runners = {}
    for row in result["rows"]:
        if row["run"] != result["parent"] or row["format"] not in ("tflite-float32",
                                                                    "tflite-int8"):
            continue
        for delegate in (True, False):
            options = {} if delegate else {
                "experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
            interpreter = Interpreter(row["path"], num_threads=1, **options)
            interpreter.allocate_tensors()
            detail = interpreter.get_input_details()[0]
            zeros = np.zeros(detail["shape"], detail["dtype"])

            def call(it=interpreter, index=detail["index"], x=zeros):
                it.set_tensor(index, x)
                it.invoke()

            runners[(row["format"], delegate)] = call
    timed = latencies(runners, calls=calls)
    return [{"format": fmt, "with_delegate_ms": round(timed[(fmt, True)][0], 4),
             "without_delegate_ms": round(timed[(fmt, False)][0], 4)}
            for fmt in dict.fromkeys(fmt for fmt, _ in timed)]


def pick(row: dict) -> dict:
    return {k: row[k] for k in ("recipe", "options", "format", "bytes", "gzip_bytes", "p50_ms",
                                "multiply_adds", "latency_floor_ms", "val_accuracy",
                                "test_accuracy")}


def plot(cases: dict, path: Path) -> None:
    """Test accuracy against raw bytes (flash), gzip bytes (download) and latency, one row per
    case; the points of the Pareto front (on validation) edged in black, the two picks
    ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(cases), 3, figsize=(15, 4.2 * len(cases)), squeeze=False)
    for (name, case), row_axes in zip(cases.items(), axes, strict=True):
        rows = case["rows"]
        for ax, cost, label in ((row_axes[0], "bytes", "bytes on flash (log)"),
                                (row_axes[1], "gzip_bytes", "gzip bytes, to download (log)"),
                                (row_axes[2], "p50_ms", "p50 ms, batch 1, 1 thread (log)")):
            for fmt in sorted({r["format"] for r in rows}):
                mine = [r for r in rows if r["format"] == fmt]
                ax.scatter([r[cost] for r in mine], [100 * r["test_accuracy"] for r in mine],
                           label=fmt, s=26, linewidths=1.2,
                           edgecolors=[(0, 0, 0, 1 if r["pareto"] else 0) for r in mine])
            chosen = case["figures"].get("fastest" if cost == "p50_ms" else "smallest")
            if chosen:
                ax.scatter([chosen[cost]], [100 * chosen["test_accuracy"]], s=160,
                           facecolors="none", edgecolors="black", linewidths=1.5,
                           label="the pick (on validation)")
            ax.axhline(100 * (case["figures"]["parent_test_accuracy"] - BUDGET), color="red",
                       linewidth=0.8, linestyle=":", label="parent - 0.5 pp")
            ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(name, fontsize=10)
            ax.grid(alpha=0.3)
        row_axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_options(parser, ROOT / "bench-results" / "frontier.json",
                  "the 8x8 digits CNN for 1 epoch, one channel-pruned child")
    args = parser.parse_args(argv)
    import kerasmodels as km

    cases = {}
    chosen = {k: v for k, v in CASES.items() if not args.quick or not v}
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in chosen.items():
            parent = km.train("cnn", "digits", dataset_options=options,
                              epochs=1 if args.quick else None, out_dir=tmp, verbose=0)
            result = km.sweep(parent, accuracy_budget=BUDGET, calls=20 if args.quick else 200,
                              recipes=QUICK_RECIPES if args.quick else RECIPES, progress=True)
            case = {"parent": parent.id, "params": parent.manifest["arch"]["params"],
                    "epochs": parent.manifest["training"]["epochs_run"],
                    "rows": [{k: r[k] for k in ("run", *COLUMNS)} for r in result["rows"]],
                    "figures": figures(result),
                    "delegate": delegate_check(result, 20 if args.quick else 200)}
            cases[name] = case
            print(f"\n{name}")
            print(format_table(case["rows"], COLUMNS))
            report(case["figures"])
            print(format_table(case["figures"]["by_format"]))
            print(format_table(case["delegate"]))
    plot_path = args.out.with_suffix(".png") if args.quick else ROOT / "docs" / "frontier.png"
    plot(cases, plot_path)
    print(f"wrote {plot_path}")
    write_results(args.out, quick=args.quick, budget_pp=100 * BUDGET,
                  targets={"x_smaller": SMALLER_TARGET, "x_faster": FASTER_TARGET},
                  plot=str(plot_path.relative_to(ROOT)) if not args.quick else str(plot_path),
                  cases=cases)
    return 0


def report(found: dict) -> None:
    for key, target, unit in (("smallest", SMALLER_TARGET, "x_smaller"),
                              ("fastest", FASTER_TARGET, "x_faster")):
        row = found.get(key)
        if row is None:
            print(f"{key}: no artifact within {100 * BUDGET:g} pp on validation")
            continue
        verdict = "reached" if row[unit] >= target else \
            f"NOT reached: {target / row[unit]:.2f}x short"
        print(f"{key}: {row['recipe']} ({row['options']}) {row['format']}: {row[unit]}x "
              f"(target {target:g}x, {verdict}); test {row['test_pp']:+.2f} pp against the parent")


if __name__ == "__main__":
    sys.exit(main())
