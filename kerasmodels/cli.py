"""The ``kerasmodels`` command: a thin layer over the public API.

Errors are one line on stderr and a non-zero exit; set ``KERASMODELS_DEBUG=1`` to see the
traceback.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

from kerasmodels._version import __version__

DEMO = (("cnn", "digits"), ("mlp", "digits"), ("rnn", "sequences"), ("transformer", "text"))


def _key_value(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    if isinstance(parsed, list):
        parsed = tuple(parsed)
    return key.strip().replace("-", "_"), parsed


def _image_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"image size must look like 32x32, got {text!r}") from None
    return h, w


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasmodels",
        description="Train, compress, export and compare Keras models for the edge.",
    )
    parser.add_argument("--version", action="version", version=f"kerasmodels {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train an architecture on a dataset and save the run")
    t.add_argument("--arch", default="cnn", help="architecture (see 'kerasmodels archs')")
    t.add_argument("--dataset", default="digits",
                   help="digits, regression, sequences, text, diabetes, mnist, ..., "
                        "csv:<path>, images:<folder>")
    t.add_argument("--epochs", type=int, help="default: the architecture's")
    t.add_argument("--batch-size", type=int, help="default: the architecture's")
    t.add_argument("--optimizer", default="adam", help="adam, sgd, momentum, rmsprop, adamw")
    t.add_argument("--learning-rate", type=float, help="default: the architecture's")
    t.add_argument("--regularizer", choices=["none", "l1", "l2", "l1l2"], default="none")
    t.add_argument("--reg-strength", type=float, default=1e-4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    t.add_argument("--target", help="target column of a csv: dataset")
    t.add_argument("--image-size", type=_image_size, help="HxW for an images: dataset")
    t.add_argument("--grayscale", action="store_true", help="read an images: dataset as grayscale")
    t.add_argument("--hparam", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="architecture hyperparameter, e.g. --hparam hidden_units=[64,32]")
    t.add_argument("--out-dir", default="saved_models")
    t.add_argument("--no-resume", action="store_true", help="start over instead of resuming")
    t.add_argument("--quiet", action="store_true")

    r = sub.add_parser("runs", help="list the runs and their metrics")
    r.add_argument("--runs-dir", default="saved_models")

    sub.add_parser("archs", help="list the architectures and their hyperparameters")
    sub.add_parser("datasets", help="list the datasets")

    d = sub.add_parser("demo", help="train the demo models on the built-in data")
    d.add_argument("--runs-dir", default="saved_models")
    d.add_argument("--force", action="store_true", help="train them even if runs exist")
    return parser


def cmd_train(args) -> int:
    import kerasmodels as km

    options = {}
    if args.target:
        options["target"] = args.target
    if args.image_size:
        options["image_size"] = args.image_size
    if args.grayscale:
        options["color"] = "grayscale"
    run = km.train(
        args.arch, args.dataset, epochs=args.epochs, batch_size=args.batch_size,
        optimizer=args.optimizer, learning_rate=args.learning_rate,
        regularizer=None if args.regularizer == "none" else args.regularizer,
        reg_strength=args.reg_strength, seed=args.seed, out_dir=args.out_dir,
        early_stopping=args.early_stopping, resume=not args.no_resume,
        verbose=0 if args.quiet else 1, dataset_options=options, **dict(args.hparam),
    )
    test = ", ".join(f"{k} {v:.4f}" for k, v in run.metrics["test"].items())
    print(f"saved {run.path}  (test: {test})")
    return 0


def runs_rows(runs_dir: str) -> tuple[list[dict], list[tuple[Path, str]]]:
    import kerasmodels as km

    runs, broken = km.scan_runs(runs_dir)
    rows = []
    for run in runs:
        test = run.metrics.get("test", {})
        rows.append({
            "run": run.id, "arch": run.arch, "dataset": run.manifest["dataset"]["name"],
            "parent": run.parent, "recipe": run.manifest.get("recipe"),
            "params": run.manifest["arch"].get("params"),
            "test_acc": test.get("accuracy"), "test_mae": test.get("mae"),
            "kB": round((run.path / "model.keras").stat().st_size / 1024, 1),
            "epochs": run.manifest["training"].get("epochs_run"),
        })
    return rows, broken


def cmd_runs(args) -> int:
    from kerasmodels.report import format_table

    rows, broken = runs_rows(args.runs_dir)
    if not rows and not broken:
        print(f"no runs in {args.runs_dir}: train one with 'kerasmodels train --arch cnn'")
        return 0
    if rows:
        print(format_table(rows))
    for path, reason in broken:
        print(f"BROKEN {path.name}: {reason}")
    return 0


def cmd_archs(args) -> int:
    from kerasmodels.architectures import REGISTRY
    from kerasmodels.report import format_table

    rows = [{"arch": a.name, "family": a.family, "description": a.description,
             "hparams": ", ".join(f"{k}={v!r}" for k, v in a.hparams.items()) or "-"}
            for a in REGISTRY.values()]
    print(format_table(rows))
    return 0


def cmd_datasets(args) -> int:
    from kerasmodels.data import BUILTIN, ONLINE

    for name, fn in BUILTIN.items():
        print(f"{name:14s} built in   {(fn.__doc__ or '').strip().splitlines()[0]}")
    for name in ONLINE:
        print(f"{name:14s} online     keras.datasets.{name} (or path=<local copy>)")
    print(f"{'csv:<path>':14s} your file  numeric features, --target <column>")
    print(f"{'images:<dir>':14s} your files one sub-folder per class, --image-size HxW")
    return 0


def cmd_demo(args) -> int:
    import kerasmodels as km

    existing = km.list_runs(args.runs_dir)
    if existing and not args.force:
        print(f"{len(existing)} runs already in {args.runs_dir} (use --force to train again)")
    else:
        for arch, dataset in DEMO:
            print(f"== {arch} on {dataset}")
            km.train(arch, dataset, out_dir=args.runs_dir)
    return cmd_runs(argparse.Namespace(runs_dir=args.runs_dir))


COMMANDS = {"train": cmd_train, "runs": cmd_runs, "archs": cmd_archs,
            "datasets": cmd_datasets, "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume where it stopped",
              file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, never a traceback
        if os.environ.get("KERASMODELS_DEBUG"):
            raise
        from kerasmodels.errors import KerasModelsError

        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if not isinstance(exc, KerasModelsError):
            message = f"{type(exc).__name__}: {message} (KERASMODELS_DEBUG=1 shows the traceback)"
        print(f"kerasmodels: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
