"""Every architecture and every run an import can make, reopened in a new process, taken
through the sweep's default recipes and every row of the format table.

Each case (a registered architecture with one of its structural options, or a model imported
as a user brings it) is trained briefly and saved. A fresh Python process then reopens the
run through the API and runs ``km.sweep`` with the default recipes (each fine-tuning for
``--recipe-epochs``), then exports every member (the run and each child) to the formats the
sweep does not make; another fresh process runs the console script
``kerasmodels export RUN --formats tflite-int8``. Every cell of case x recipe x format ends in:

- ``ok``: an artifact that passes its format's floor (its top-1 agreement with Keras),
- ``below floor``: the measured agreement under the floor (the file is not published),
- ``cannot hold``: a converter's known limitation, with its reason,
- ``converter failed``: the converter crashed (in the worker process) or failed,
- ``compression failed``: the recipe cannot apply (an imported SavedModel has no layers),

and never in a dead process: a case whose process dies fails the bench (exit 1). It also
measures what the isolation costs: the same exports in fresh processes with the converters in
the worker and in the process itself (``KERASMODELS_ISOLATE=0``). Writes
bench-results/export_matrix.json (the docs' table of what each format holds: docs/benchmarks.md).

    .venv/bin/python scripts/bench_export_matrix.py           # about an hour on 2 cores
    .venv/bin/python scripts/bench_export_matrix.py --quick   # CI: the crash case, no recipe
    .venv/bin/python scripts/bench_export_matrix.py --case "transformer on images" \
        --merge-into bench-results/export_matrix.json          # one case again, after a fix
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

# (case, arch, dataset, hparams); imports are built by ``imported`` below
CASES = [
    ("linear", "linear", "digits", {}),
    ("linear (regression)", "linear", "regression", {}),
    ("mlp", "mlp", "digits", {}),
    ("mlp_small", "mlp_small", "digits", {}),
    ("cnn", "cnn", "digits", {}),
    ("cnn_small", "cnn_small", "digits", {}),
    *[(f"rnn {cell}" + (" bidirectional" if both else ""), "rnn", "sequences",
       {"cell": cell, "bidirectional": both})
      for cell in ("lstm", "gru", "simple") for both in (False, True)],
    ("rnn_small (gru)", "rnn_small", "sequences", {}),
    ("rnn lstm on tokens", "rnn", "text", {"cell": "lstm"}),
    ("rnn gru on tokens", "rnn", "text", {"cell": "gru"}),
    ("transformer", "transformer", "text", {}),
    ("transformer causal", "transformer", "text", {"causal": True}),
    ("transformer_small", "transformer_small", "text", {}),
    ("transformer on images", "transformer", "digits", {}),
]
IMPORTS = ("import: Keras 3 CNN", "import: SavedModel", "import: GRU over any length")
QUICK_CASES = ("import: GRU over any length",)  # the registry's GRU exports to int8 in a new
# process in tests/test_browser.py (the dashboard's server); every case: the full run
QUICK_CLI = ("import: GRU over any length",)  # the console script, in quick mode: a crash
# underneath is one line (a new process and its converter worker cost ~10 s on 2 cores)
MAX_EPOCHS = 15  # each case trains for its architecture's default epochs, at most this
STATUSES = ("ok", "below floor", "cannot hold", "converter failed", "compression failed")


def imported(name: str, out: Path, epochs: int):
    """The run an import makes of a model a user brings."""
    import kerasmodels as km

    if name == "import: Keras 3 CNN":
        import keras as keras3

        data = km.load_dataset("digits")
        keras3.utils.set_random_seed(0)
        model = keras3.Sequential([
            keras3.Input((8, 8, 1)), keras3.layers.Conv2D(8, 3, activation="relu"),
            keras3.layers.BatchNormalization(momentum=0.9), keras3.layers.Flatten(),
            keras3.layers.Dense(10, activation="softmax")], name="keras3_cnn")
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(*data.train, epochs=epochs, verbose=0)
        return km.import_model(model, data, name="keras3-cnn", out_dir=out)
    from kerasmodels.backend import keras, tf

    data = km.load_dataset("digits" if name == "import: SavedModel" else "sequences")
    keras.utils.set_random_seed(0)
    if name == "import: SavedModel":
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
    else:  # a loop over any number of steps: it cannot be unrolled
        inputs = keras.Input((None, 2))
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(
            keras.layers.GRU(8)(inputs)), name="any_length")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(*data.train, epochs=epochs, verbose=0)
    if name == "import: SavedModel":
        folder = out / "my_saved_model"
        tf.saved_model.save(model, str(folder))
        return km.import_model(folder, data, name="saved-model", out_dir=out)
    return km.import_model(model, data, name="any-length-gru", out_dir=out)


def cell(case: str, row: dict) -> dict:
    return {"case": case, "recipe": row.get("recipe") or "none", "options": row.get("options"),
            "format": row["format"], "status": row["status"],
            "agreement": row.get("top1_agreement"), "reason": row.get("reason")}


def reopened_all(cases: list[list[str]], recipes: list[dict], formats: list[str],
                 out: str) -> int:
    """The child process: :func:`reopened` for each ``[case, run path]``, each case's result
    in ``out`` with the case's index (``out.0``, ``out.1``, ...)."""
    for i, (case, path) in enumerate(cases):
        reopened(case, path, recipes, formats, f"{out}.{i}")
    return 0


def reopened(case: str, path: str, recipes: list[dict], formats: list[str], out: str) -> int:
    """Reopen the run, sweep it, export every member to every format."""
    import kerasmodels as km
    from kerasmodels.errors import ExportError
    from kerasmodels.layout import EXPORTS_RECORD
    from kerasmodels.runs import read_json

    run = km.load_run(path)
    cells, members, swept = [], [(run, run.manifest.get("recipe") or "none", "")], None
    started = time.perf_counter()
    if run.manifest["dataset"]["task"] == "classification":
        swept = km.sweep(run, recipes=recipes, calls=5, progress=False)
        cells += [cell(case, row) for row in swept["rows"]]
        seen = {run.id}
        for row in swept["rows"]:
            if row["run"] and row["run"] not in seen:
                seen.add(row["run"])
                members.append((km.load_run(run.path.parent / row["run"]), row["recipe"],
                                row["options"]))
            if row["status"] == "compression failed":  # no member: every format says so
                cells += [{**cell(case, row), "format": fmt} for fmt in formats
                          if fmt != row["format"]]
    for member, recipe, options in members:
        done = {c["format"] for c in cells if c["recipe"] == recipe and c["options"] == options}
        wanted = [fmt for fmt in formats if fmt not in done]
        try:
            made = km.export(member, wanted, on_error="skip")
        except ExportError:  # none of them can hold it: each is named in the record
            made = []
        record = read_json(member.path / "exports" / EXPORTS_RECORD)
        for fmt in wanted:
            artifact = next((a for a in made if a.format == fmt), None)
            failed = record.get("failed", {}).get(fmt)
            if artifact is not None:
                row = {"status": "ok", "top1_agreement": artifact.parity.get("top1_agreement")}
            elif failed:
                row = {"status": failed["kind"], "reason": failed["reason"],
                       "top1_agreement": (failed.get("parity") or {}).get("top1_agreement")}
            else:
                row = {"status": "cannot hold", "reason": record["unsupported"].get(fmt)}
            cells.append(cell(case, {**row, "recipe": recipe, "options": options,
                                     "format": fmt}))
    Path(out).write_text(json.dumps({
        "cells": cells, "seconds": round(time.perf_counter() - started, 1),
        "sweep": None if swept is None else {
            "complete": swept["complete"], "failed": swept["failed"],
            "pick": swept["pick"] and {k: swept["pick"][k] for k in ("recipe", "format")}}}))
    return 0


def console_int8(run) -> dict:
    """``kerasmodels export RUN --formats tflite-int8`` as a user runs it: its exit code, the
    lines it wrote to stderr (progress bars aside), and whether one was a traceback."""
    cli = in_new_process(sys.executable, "-m", "kerasmodels", "export", str(run.path),
                         "--formats", "tflite-int8", "--json")
    errors = [line for line in cli.stderr.split("\n") if line.strip() and "%|" not in line]
    return {"exit": cli.returncode, "stderr_lines": len(errors),
            "traceback": "Traceback" in cli.stderr,
            "error": errors[-1][:400] if cli.returncode else None}


def in_new_process(*command: str, env: dict | None = None, timeout: float = 3600):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})})


EXPORT_TIMER = """
import sys, time
start = time.perf_counter()
import kerasmodels as km
run = km.load_run(sys.argv[1])
run.model
ready = time.perf_counter()
km.export(run, sys.argv[2].split(","))
first = time.perf_counter()
km.export(run, sys.argv[2].split(","))
print(ready - start, first - ready, time.perf_counter() - first)
"""


def isolation_cost(run_path: Path, formats: list[str], repeats: int) -> dict:
    """Export times in fresh processes, converters in the worker and in the process itself,
    interleaved; medians."""
    times: dict[str, list[list[float]]] = {"isolated": [], "in_process": []}
    for _ in range(repeats):
        for mode, flag in (("isolated", "1"), ("in_process", "0")):
            done = in_new_process(sys.executable, "-c", EXPORT_TIMER, str(run_path),
                                  ",".join(formats), env={"KERASMODELS_ISOLATE": flag})
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-2000:])
            times[mode].append([float(v) for v in done.stdout.split()])

    def median(values):
        return round(sorted(values)[len(values) // 2], 2)

    result = {"formats": formats, "repeats": repeats}
    for mode, samples in times.items():
        result[mode] = {"start_s": median([s[0] for s in samples]),
                        "first_export_s": median([s[1] for s in samples]),
                        "second_export_s": median([s[2] for s in samples])}
    result["first_export_ratio"] = round(result["isolated"]["first_export_s"] /
                                         result["in_process"]["first_export_s"], 2)
    result["second_export_ratio"] = round(result["isolated"]["second_export_s"] /
                                          result["in_process"]["second_export_s"], 2)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe-epochs", type=int, default=3)
    parser.add_argument("--case", action="append", help="only these cases (repeatable)")
    parser.add_argument("--merge-into", type=Path, metavar="JSON",
                        help="re-run --case cases and replace them in this full run's results "
                             "(the others, and its isolation cost, are kept); written to --out")
    parser.add_argument("--child", nargs=4, metavar=("CASES", "RECIPES", "FORMATS", "OUT"),
                        help=argparse.SUPPRESS)  # the reopening process
    bench_options(parser, ROOT / "bench-results" / "export_matrix.json",
                  f"cases {', '.join(QUICK_CASES)}, 1 epoch, no recipe, the console script on "
                  f"{', '.join(QUICK_CLI)}, no isolation cost")
    args = parser.parse_args(argv)
    if args.child:
        return reopened_all(json.loads(args.child[0]), json.loads(args.child[1]),
                            json.loads(args.child[2]), args.child[3])

    import kerasmodels as km
    from kerasmodels.architectures import get_architecture
    from kerasmodels.compression.recipes import default_sweep
    from kerasmodels.formats import export_formats

    names = [c[0] for c in CASES] + list(IMPORTS)
    chosen = list(QUICK_CASES) if args.quick else (args.case or names)
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        parser.error(f"unknown case(s) {unknown}: choose among {names}")
    epochs = 1 if args.quick else args.recipe_epochs
    recipes = [] if args.quick else [{**spec, "epochs": epochs} for spec in default_sweep()]
    # the rows made only where another misses (tflite-mixed) come from the sweep, as a user
    # meets them: where int8 is below its floor
    formats = [f.name for f in export_formats() if not f.repairs]
    cells, cases, died, paths = [], [], [], {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="export-matrix-") as tmp:
        out = Path(tmp)
        trained = []  # (name, run, described, seconds)
        for name in chosen:
            t0 = time.perf_counter()
            spec = next((c for c in CASES if c[0] == name), None)
            if spec is None:
                run = imported(name, out, 1 if args.quick else 5)
                described = {"arch": "import", "dataset": run.manifest["dataset"]["name"]}
            else:
                _, arch, dataset, hparams = spec
                budget = min(get_architecture(arch).training.get("epochs", MAX_EPOCHS),
                             MAX_EPOCHS)
                run = km.train(arch, dataset, epochs=1 if args.quick else budget, out_dir=out,
                               verbose=0, **hparams)
                described = {"arch": arch, "dataset": dataset, "hparams": hparams}
            paths[name] = run.path
            trained.append((name, run, described, round(time.perf_counter() - t0, 1)))
        # a reopening process per case (one case's crash cannot hide another's); in quick
        # mode one for all, TensorFlow and its converter worker started once
        batches = [trained] if args.quick else [[t] for t in trained]
        for batch in batches:
            t0 = time.perf_counter()
            result = out / f"cells-{len(cases)}.json"
            child = in_new_process(sys.executable, __file__, "--child",
                                   json.dumps([[name, str(run.path)] for name, run, _, _ in batch]),
                                   json.dumps(recipes), json.dumps(formats), str(result))
            for i, (name, run, described, seconds) in enumerate(batch):
                entry = {"case": name, **described, "params": run.manifest["arch"].get("params"),
                         "test": run.metrics.get("test"), "train_s": seconds,
                         "child_exit": child.returncode,
                         "cli_int8": console_int8(run) if not args.quick or name in QUICK_CLI
                         else None}
                found = Path(f"{result}.{i}")
                if child.returncode != 0 or not found.is_file():
                    died.append(name)
                    entry["child_stderr"] = child.stderr[-2000:]
                else:
                    found = json.loads(found.read_text())
                    cells += found["cells"]
                    entry.update(reopen_s=found["seconds"], sweep=found["sweep"])
                cases.append(entry)
                ok = sum(c["status"] == "ok" for c in cells if c["case"] == name)
                total = sum(1 for c in cells if c["case"] == name)
                print(f"{name}: {ok}/{total} cells ok, child exit {child.returncode}, CLI int8 "
                      f"{entry['cli_int8'] and entry['cli_int8']['exit']}, "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
        cost = None if args.quick or args.merge_into else isolation_cost(
            paths["cnn" if "cnn" in paths else chosen[0]],
            ["tflite-float32", "tflite-int8", "onnx"], 5)
    summary = []
    for entry in cases:
        mine = [c for c in cells if c["case"] == entry["case"]]
        summary.append({"case": entry["case"], **{
            fmt: {status: sum(1 for c in mine if c["format"] == fmt and c["status"] == status)
                  for status in STATUSES} for fmt in formats}})
    print(format_table([{"case": c["case"], **{f: f"{c[f]['ok']}/{sum(c[f].values())}"
                                               for f in formats}} for c in summary]))
    if cost:
        print(f"isolation: first export {cost['isolated']['first_export_s']} s isolated against "
              f"{cost['in_process']['first_export_s']} s in process "
              f"({cost['first_export_ratio']}x); again {cost['second_export_ratio']}x")
    wall_s = round(time.perf_counter() - started, 1)
    merged = None
    if args.merge_into:  # the other cases as that run measured them
        previous = json.loads(args.merge_into.read_text())
        kept = [c["case"] for c in previous["cases"] if c["case"] not in chosen]
        cases = [c for c in previous["cases"] if c["case"] in kept] + cases
        cells = [c for c in previous["cells"] if c["case"] in kept] + cells
        summary = [s for s in previous["summary"] if s["case"] in kept] + summary
        died = [d for d in previous["died"] if d in kept] + died
        cost, merged = previous["isolation"], {"cases": chosen, "wall_s": wall_s}
        wall_s = previous["wall_s"]
    write_results(args.out, quick=args.quick, recipes=recipes, formats=formats, cases=cases,
                  cells=cells, summary=summary, isolation=cost, died=died, wall_s=wall_s,
                  rerun=merged)
    return 1 if died else 0


if __name__ == "__main__":
    sys.exit(main())
