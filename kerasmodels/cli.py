"""The ``kerasmodels`` command: a thin layer over the public API.

Results go to stdout (``--json``: as JSON), logs and progress to stderr (``-v`` more, ``-q``
warnings only). Errors are one line on stderr; the exit code is 2 for a usage error (a bad
option or value), 1 when the work fails, 130 when interrupted. ``KERASMODELS_DEBUG=1`` shows
the traceback.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kerasmodels._version import __version__
from kerasmodels.dashboard import LOOPBACK, PORT
from kerasmodels.layout import BENCHMARK, BENCHMARK_CSV, EXPORTS, RUNS_DIR
from kerasmodels.logs import configure, get_logger

LOG = get_logger(__name__)

ADDRESS_HELP = ("interface to listen on (default 127.0.0.1: this machine only); 0.0.0.0 opens "
                "the dashboard, which has no login, to the whole network")


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


def _dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", help="target column of a csv: dataset")
    parser.add_argument("--image-size", type=_image_size, help="HxW for an images: dataset")
    parser.add_argument("--grayscale", action="store_true",
                        help="read an images: dataset as grayscale")
    parser.add_argument("--dataset-option", type=_key_value, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="e.g. classes=[0,1,2,3,4], path=mnist.npz, n=2000")


def _dataset_options(args) -> dict:
    options = dict(args.dataset_option)
    if args.target:
        options["target"] = args.target
    if args.image_size:
        options["image_size"] = args.image_size
    if args.grayscale:
        options["color"] = "grayscale"
    return options


def _option_type(option):
    """An argparse ``type`` that parses a declared option and checks it (a usage error names
    what is accepted)."""
    from kerasmodels.errors import KerasModelsError

    def parse(text: str):
        value: object = text
        if option.kind in (int, float):
            try:
                value = option.kind(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{option.name} must be {option.expected}, got "
                                                 f"{text!r}") from None
        try:
            return option.check(value)
        except KerasModelsError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = option.name  # argparse names the type in its messages
    return parse


def _add_option(parser: argparse.ArgumentParser, option, flag: str | None = None,
                **overrides) -> None:
    """A flag for a declared option (``kerasmodels.options``): its parser, help and default
    come from the declaration; the flag's own default is None, so the API applies it."""
    metavar = "{" + ",".join(map(str, option.options)) + "}" if option.choices else None
    parser.add_argument(flag or option.flag, type=_option_type(option), default=None,
                        dest=option.name,
                        metavar=overrides.pop("metavar", metavar),
                        help=overrides.pop("help", option.described()), **overrides)


def _verbosity_flags(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=default,
                        help="more output: debug logs and the native libraries' own lines")
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="warnings and the result only: no progress bars")


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print the result as JSON on stdout (logs and progress go to stderr)")


class Parser(argparse.ArgumentParser):
    """Usage errors as one line that names the fix, exit code 2."""

    def error(self, message: str):
        self.exit(2, f"kerasmodels: error: {message} (see '{self.prog} --help')\n")


def _defaults(function) -> dict[str, Any]:
    """A function's keyword defaults: the help shows the API's own, written once there."""
    import inspect

    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not p.empty}


def _arch_help() -> str:
    from kerasmodels.architectures import architecture_names

    return f"one of {', '.join(architecture_names())} (see 'kerasmodels archs')"


def _train_arguments(train: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels train``."""
    from kerasmodels.architectures import DEFAULT_ARCH
    from kerasmodels.data import DEFAULT_DATASET
    from kerasmodels.options import TRAINING

    # km.train's own defaults, read where it reads them (importing training loads TensorFlow)
    train.add_argument("--arch", default=DEFAULT_ARCH, help=_arch_help())
    train.add_argument("--dataset", default=DEFAULT_DATASET,
                       help="a built-in or online dataset (see 'kerasmodels datasets'), "
                            "csv:<path>, images:<folder> or audio:<folder>")
    for name, option in TRAINING.items():
        extra = {"metavar": {"early_stopping": "PATIENCE", "checkpoint_every": "SECONDS",
                             "reg_warmup_epochs": "N"}[name]} \
            if name in ("early_stopping", "checkpoint_every", "reg_warmup_epochs") else {}
        _add_option(train, option, **extra)
    train.add_argument("--optimizer-option", type=_key_value, action="append", default=[],
                       metavar="KEY=VALUE", help="e.g. beta_1=0.8, momentum=0.95, centered=True")
    train.add_argument("--schedule-option", type=_key_value, action="append", default=[],
                       metavar="KEY=VALUE",
                       help="e.g. every=5, drop=0.5, warmup_epochs=2, patience=3")
    _dataset_arguments(train)
    train.add_argument("--hparam", type=_key_value, action="append", default=[],
                       metavar="KEY=VALUE",
                       help="architecture hyperparameter, e.g. --hparam hidden_units=[64,32]")
    train.add_argument("--out-dir", default=RUNS_DIR)
    train.add_argument("--no-resume", action="store_true", help="start over instead of resuming")
    train.add_argument("--distribution", choices=["mirrored", "multiworker"],
                       help="mirrored: every local device (KERASMODELS_CPU_DEVICES=N splits the "
                            "CPU); multiworker: the cluster in TF_CONFIG. --batch-size is then "
                            "per replica")


def _import_arguments(imported: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels import``."""
    imported.add_argument("path", help="a .keras or .h5 file, or a SavedModel folder")
    imported.add_argument("--dataset", required=True,
                          help="the data to evaluate it on: digits, ..., csv:<path>, "
                               "images:<folder>")
    imported.add_argument("--name", help="the run's name (default: the model's)")
    imported.add_argument("--signature", help="a SavedModel's signature (default "
                                              "serving_default)")
    _dataset_arguments(imported)
    imported.add_argument("--out-dir", default=RUNS_DIR)


def _search_arguments(search: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels search``."""
    from kerasmodels import tuning

    searched = _defaults(tuning.search)
    search.add_argument("--arch", default=searched["arch"], help=_arch_help())
    search.add_argument("--dataset", default=searched["dataset"])
    search.add_argument("--trials", type=int,
                        help=f"trials to run (default {searched['trials']})")
    search.add_argument("--epochs", type=int, help="per trial (default: the architecture's)")
    search.add_argument("--timeout", type=float, help="seconds for the whole search")
    search.add_argument("--space", type=json.loads, metavar="JSON",
                        help='e.g. \'{"learning_rate": [1e-4, 1e-2, "log"], "optimizer": '
                             '["adam", "sgd"]}\' (lists of two numbers are ranges; default: '
                             'the width and depth of the family and the training options\' '
                             'declared ranges)')
    search.add_argument("--out-dir", default=RUNS_DIR)
    _study_arguments(search, "search", "OUT_DIR/.searches", "the architecture, dataset, epochs, space "
                     "and seed")


def _study_arguments(parser: argparse.ArgumentParser, what: str, where: str,
                     named_from: str) -> None:
    """``--storage`` and ``--study``: where a search's or sweep's Optuna study lives."""
    parser.add_argument("--storage", metavar="URL",
                        help=f"the database the {what}'s study lives in (default: an SQLite "
                             f"file in {where}: a {what} started again resumes); a "
                             "postgresql:// or mysql:// URL lets workers on several machines "
                             f"share one {what}")
    parser.add_argument("--study", help=f"the study's name (default: from {named_from})")


def _pretrain_arguments(pretrain: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels pretrain``."""
    from kerasmodels import pretraining
    from kerasmodels.options import TRAINING

    pretrained = _defaults(pretraining.pretrain)
    pretrain.add_argument("--arch", default=pretrained["arch"], help=_arch_help())
    pretrain.add_argument("--corpus", default=pretrained["corpus"],
                          help="a token dataset (default: generated text)")
    pretrain.add_argument("--corpus-option", type=_key_value, action="append", default=[],
                          metavar="KEY=VALUE", help="e.g. context=0.8, n=6000")
    pretrain.add_argument("--objective", choices=pretraining.OBJECTIVES,
                          help=f"default {pretrained['objective']}")
    pretrain.add_argument("--epochs", type=int, help=f"default {pretrained['epochs']}")
    pretrain.add_argument("--learning-rate", type=float,
                          help=f"default {pretrained['learning_rate']:g}")
    pretrain.add_argument("--mask-rate", type=float, help=f"default {pretrained['mask_rate']}")
    pretrain.add_argument("--hparam", type=_key_value, action="append", default=[],
                          metavar="KEY=VALUE")
    _add_option(pretrain, TRAINING["seed"])
    pretrain.add_argument("--out-dir", default=RUNS_DIR)


def _finetune_arguments(finetune: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels finetune``."""
    from kerasmodels import pretraining
    from kerasmodels.options import TRAINING

    finetune.add_argument("run", help="the pretrained run's directory (or its id under "
                                      "saved_models/)")
    finetune.add_argument("--dataset", default=_defaults(pretraining.finetune)["dataset"])
    finetune.add_argument("--dataset-option", type=_key_value, action="append", default=[],
                          metavar="KEY=VALUE", help="e.g. classes=[5,6,7,8,9], context=0.8")
    tuned = _defaults(pretraining.finetune)
    finetune.add_argument("--freeze", choices=pretraining.FREEZE,
                          help=f"encoder: train the head only; none: everything, the backbone "
                               f"slower (default {tuned['freeze']})")
    finetune.add_argument("--epochs", type=int, help=f"default {tuned['epochs']}")
    finetune.add_argument("--learning-rate", type=float,
                          help=f"the head's; default {tuned['learning_rate']:g}")
    finetune.add_argument("--backbone-factor", type=float,
                          help="the backbone's learning rate over the head's (with --freeze "
                               f"none; default {tuned['backbone_factor']})")
    finetune.add_argument("--labelled-fraction", type=float,
                          help="train on this stratified share of the labels (default "
                               f"{tuned['labelled_fraction']})")
    finetune.add_argument("--compare-scratch", action="store_true",
                          help="also train the architecture from scratch on the same labels")
    _add_option(finetune, TRAINING["seed"])
    finetune.add_argument("--out-dir", help="default: next to the pretrained run")


def _launch_arguments(launch: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels launch``."""
    from kerasmodels import distribute

    launched = _defaults(distribute.launch)
    launch.add_argument("--workers", type=int, default=launched["workers"])
    launch.add_argument("--grace", type=float, default=launched["grace"],
                        help="seconds the others get to stop after a worker fails")
    launch.add_argument("worker_command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                        help="the kerasmodels command each worker runs, e.g. -- train --arch "
                             "mlp")


def _lr_find_arguments(lr_find: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels lr-find``."""
    from kerasmodels import lab
    from kerasmodels.options import TRAINING

    found = _defaults(lab.find_learning_rate)
    lr_find.add_argument("--arch", default=found["arch"], help=_arch_help())
    lr_find.add_argument("--dataset", default=found["dataset"])
    _add_option(lr_find, TRAINING["optimizer"])
    lr_find.add_argument("--steps", type=int, help="learning rates tried (default "
                                                   f"{found['steps']})")


def _compress_arguments(compress: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels compress``."""
    from kerasmodels.compression.recipes import recipe_names
    from kerasmodels.options import COMPRESSION

    compress.add_argument("run", help="run directory (or its id under saved_models/)")
    compress.add_argument("--recipe", required=True, choices=recipe_names(), metavar="RECIPE",
                          help=", ".join(recipe_names()))
    compress.add_argument("--option", type=_key_value, action="append", default=[],
                          metavar="KEY=VALUE",
                          help="a recipe option: " + "; ".join(
                              f"{name} ({option.expected})" for name, option in
                              COMPRESSION.items() if option.kind is not object))


def _sweep_arguments(sweep: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels sweep``."""
    from kerasmodels.compression import sweep as sweeping
    from kerasmodels.compression.recipes import recipe_names

    sweep.add_argument("run", help="run directory (or its id under saved_models/)")
    swept = _defaults(sweeping.sweep)
    sweep.add_argument("--budget", type=float, dest="accuracy_budget",
                       help="accuracy the pick may lose against the parent's, on validation "
                            f"(default {sweeping.DEFAULT_BUDGET}, or one validation example "
                            "when that is more; 0.01 is one point)")
    sweep.add_argument("--calls", type=int,
                       help=f"batch-1 calls timed per artifact (default {swept['calls']})")
    sweep.add_argument("--target", choices=list(sweeping.TARGETS),
                       help="; ".join(f"{t.name}: {t.device}" for t in sweeping.TARGETS.values())
                       + f" (default {swept['target']})")
    from kerasmodels.boards import board_classes

    sweep.add_argument("--board", choices=[b.name for b in board_classes()],
                       help="a micro sweep picks the smallest flash that fits this board class: "
                       + "; ".join(f"{b.name} ({b.examples})" for b in board_classes()))
    sweep.add_argument("--recipe", action="append", choices=recipe_names(), metavar="RECIPE",
                       dest="recipes", help="a recipe to try, with its default options "
                                            "(repeatable; default: the sweep's own list)")
    sweep.add_argument("--workers", type=int,
                       help="processes on this machine making variants at once (default "
                            f"{swept['workers']})")
    _study_arguments(sweep, "sweep", "the .searches folder beside the run", "the run, target, formats and "
                     "recipes; each machine needs a copy of the run")


def _export_arguments(export: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels export``."""
    from kerasmodels.formats import OPTIONS, default_formats, export_formats, format_names

    export.add_argument("run", help="run directory (or its id under saved_models/)")
    export.add_argument("--formats", nargs="+", metavar="FORMAT", choices=format_names(),
                        help="; ".join(f"{f.name}: {f.device}" + (" (made when named)"
                                                                 if not f.default else "")
                                       for f in export_formats()) + " (default: "
                             f"{' '.join(default_formats(None))}; "
                             + "; ".join(f"{f.name} too for {f.for_kind} runs"
                                         for f in export_formats() if f.default and f.for_kind)
                             + ")")
    _add_option(export, OPTIONS["opset"])
    _add_option(export, OPTIONS["io_type"])
    export.add_argument("--no-compress-weights", dest="compress_weights", action="store_false",
                        default=None, help=OPTIONS["compress_weights"].help)
    for name in ("author", "version", "description"):  # --version is the program's
        _add_option(export, OPTIONS[name], "--model-version" if name == "version" else None,
                    metavar="TEXT", help=OPTIONS[name].help)


def _benchmark_arguments(bench: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels benchmark``."""
    from kerasmodels import benchmarks

    bench.add_argument("run", help="any run of the family (the root and its compressed "
                                   "children)")
    benched = _defaults(benchmarks.benchmark)
    bench.add_argument("--threads", type=int, nargs="+",
                       help=f"LiteRT thread counts (default {' '.join(map(str, benched['threads']))})")
    bench.add_argument("--calls", type=int,
                       help=f"batch-1 calls timed per variant (default {benched['calls']})")


def _runs_arguments(runs: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels runs``."""
    runs.add_argument("--runs-dir", default=RUNS_DIR)


def _demo_arguments(demo: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels demo``."""
    demo.add_argument("--runs-dir", default=RUNS_DIR)
    demo.add_argument("--force", action="store_true", help="train them even if runs exist")
    demo.add_argument("--no-dashboard", action="store_true", help="only build the demo models")
    demo.add_argument("--quick", action="store_true",
                      help="one epoch everywhere: checks that every step works, in a minute")
    demo.add_argument("--port", type=int, default=PORT)
    demo.add_argument("--address", default=LOOPBACK, help=ADDRESS_HELP)


def _docs_arguments(docs: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels docs``."""
    from kerasmodels import docs_site

    docs.add_argument("--port", type=int, default=docs_site.PORT)
    docs.add_argument("--address", default=docs_site.LOOPBACK,
                      help="interface to listen on (default: this machine only)")
    docs.add_argument("--site-dir", default=None,
                      help="where the built site goes (default: site/ in the checkout)")
    docs.add_argument("--config", default=str(docs_site.CONFIG),
                      help="the site's mkdocs.yml (default: this checkout's)")
    docs.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    docs.add_argument("--build-only", action="store_true",
                      help="build the site and print its folder, without serving it")


def _dashboard_arguments(dashboard: argparse.ArgumentParser) -> None:
    """The arguments of ``kerasmodels dashboard``."""
    dashboard.add_argument("--runs-dir", default=RUNS_DIR)
    dashboard.add_argument("--port", type=int, default=PORT)
    dashboard.add_argument("--address", default=LOOPBACK, help=ADDRESS_HELP)
    dashboard.add_argument("--no-browser", "--headless", dest="no_browser", action="store_true",
                           help="do not open a browser window (as kerasmodels docs)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command of ``COMMANDS`` (each with ``-v``/``-q``, and ``--json``
    where it has a result to print)."""
    parser = Parser(
        prog="kerasmodels",
        description="Train, compress, export and compare Keras models for the edge.",
        epilog="Exit codes: 0 done, 1 the work failed, 2 a usage error (a bad option or "
               "value), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"kerasmodels {__version__}")
    _verbosity_flags(parser, default=0)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help,
                                  usage=command.usage)
        _verbosity_flags(sub, default=argparse.SUPPRESS)  # -v/-q after the command too
        if command.json:
            _json_flag(sub)
        if command.arguments is not None:
            command.arguments(sub)
    return parser


def _given(args, *names: str) -> dict:
    """The options the user gave (the API keeps the defaults, in one place)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _emit(args, result, text: str) -> None:
    """The command's result: JSON on stdout with --json, else ``text``."""
    if getattr(args, "json", False):
        from kerasmodels.runs import json_default

        print(json.dumps(result, indent=2, default=json_default))
    elif text:
        print(text)


def _progress(args) -> bool:
    return not args.quiet


def run_summary(run) -> dict:
    """What a command that makes a run reports about it."""
    return {"id": run.id, "path": str(run.path), "arch": run.arch,
            "dataset": run.record.dataset.name, "parent": run.parent,
            "recipe": run.record.recipe, "metrics": run.metrics}


def _scores(run) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in run.metrics["test"].items())


def cmd_train(args) -> int:
    import kerasmodels as km
    from kerasmodels.options import TRAINING

    run = km.train(
        args.arch, args.dataset, optimizer_options=dict(args.optimizer_option),
        schedule_options=dict(args.schedule_option), out_dir=args.out_dir,
        resume=not args.no_resume, verbose=int(_progress(args)),
        dataset_options=_dataset_options(args), distribution=args.distribution,
        **_given(args, *TRAINING), **dict(args.hparam),
    )
    if run is None:
        _emit(args, {"worker": True, "run": None}, "worker done (the chief saves the run)")
        return 0
    _emit(args, run_summary(run), f"saved {run.path}  (test: {_scores(run)})")
    return 0


def cmd_import(args) -> int:
    import kerasmodels as km

    run = km.import_model(args.path, args.dataset, out_dir=args.out_dir,
                          dataset_options=_dataset_options(args),
                          **_given(args, "name", "signature"))
    source = run.record.source
    rebuilt = (f"; rebuilt from Keras {source['version']}, max abs difference "
               f"{source['max_abs_difference']:.2g}" if "max_abs_difference" in source else "")
    _emit(args, {**run_summary(run), "source": source},
          f"saved {run.path}  (test: {_scores(run)}{rebuilt})")
    return 0


def cmd_search(args) -> int:
    import kerasmodels as km
    from kerasmodels.report import format_table

    space = None
    if args.space is not None:
        space = {k: tuple(v) if isinstance(v, list) and len(v) in (2, 3) and
                 all(isinstance(x, (int, float)) for x in v[:2]) and
                 (len(v) == 2 or v[2] == "log") else v for k, v in args.space.items()}
    result = km.search(args.arch, args.dataset, space=space, out_dir=args.out_dir,
                       progress=_progress(args),
                       **_given(args, "trials", "timeout", "epochs", "storage", "study"))
    rows = [{"trial": t["number"], "state": t["state"], "value": t.get("value"),
             "epochs": t.get("epochs_run"), "run": t["run"], "host": t.get("host"),
             **t["params"]} for t in result.trials]
    best = result.best_id + ("" if result.best_run else f" (saved on {result.best_host})")
    _emit(args, {"best_run": result.best_id,
                 "best_host": result.best_host, "best_params": result.best_params,
                 "study": result.study, "trials": result.trials, "path": result.path},
          f"{format_table(rows)}\nbest: {best} {result.best_params}\n"
          f"study {result.study}; wrote {result.path}")
    return 0


def cmd_pretrain(args) -> int:
    import kerasmodels as km

    run = km.pretrain(args.arch, args.corpus, out_dir=args.out_dir,
                      corpus_options=dict(args.corpus_option), verbose=int(_progress(args)),
                      **_given(args, "objective", "seed", "epochs", "mask_rate",
                               "learning_rate"), **dict(args.hparam))
    _emit(args, run_summary(run), f"saved {run.path}  (held-out token accuracy "
                                  f"{run.metrics['test']['token_accuracy']:.4f})")
    return 0


def cmd_finetune(args) -> int:
    import kerasmodels as km

    run = km.finetune(args.run, args.dataset, dataset_options=dict(args.dataset_option),
                      compare_scratch=args.compare_scratch,
                      **_given(args, "freeze", "seed", "out_dir", "epochs", "learning_rate",
                               "backbone_factor", "labelled_fraction"))
    record = run.manifest["finetune"]
    line = (f"saved {run.path}  (test accuracy {run.metrics['test']['accuracy']:.4f} from "
            f"{record['labelled_examples']} labels")
    if "scratch" in record:
        line += f"; from scratch {record['scratch']['test']['accuracy']:.4f}"
    _emit(args, {**run_summary(run), "finetune": record}, line + ")")
    return 0


def cmd_launch(args) -> int:
    from kerasmodels.distribute import launch

    command = args.worker_command
    command = command[1:] if command[:1] == ["--"] else command
    return launch(command, args.workers, grace=args.grace)


def cmd_lr_find(args) -> int:
    import kerasmodels as km
    from kerasmodels.report import format_table

    found = km.find_learning_rate(args.arch, args.dataset, **_given(args, "optimizer", "steps"))
    pairs = list(zip(found["learning_rates"], found["smoothed"], strict=True))
    shown = pairs[:: max(1, len(pairs) // 12)]
    table = format_table([{"learning_rate": f"{lr:.2e}", "smoothed_loss": round(loss, 4)}
                          for lr, loss in shown])
    _emit(args, found, f"{table}\nsuggested learning rate: {found['suggested']:.2e} (a tenth "
                       f"of the rate at the lowest loss, {found['min_loss_lr']:.2e})")
    return 0


def cmd_compress(args) -> int:
    import kerasmodels as km

    parent = km.load_run(args.run)
    child = km.compress(parent, args.recipe, progress=_progress(args), **dict(args.option))
    _emit(args, {**run_summary(child), "compression": child.record.compression,
                 "parent_metrics": parent.metrics},
          f"saved {child.path}  (test: {_scores(child)}; parent: {_scores(parent)})")
    return 0


def cmd_sweep(args) -> int:
    import kerasmodels as km
    from kerasmodels.report import format_table

    given = _given(args, "accuracy_budget", "calls", "recipes", "target", "board", "workers",
                   "storage", "study")
    if "recipes" in given:
        given["recipes"] = [{"recipe": name} for name in given["recipes"]]
    result = km.sweep(args.run, progress=_progress(args), **given)
    metric, micro = result["metric"], result["target"] == "micro"
    sizes = ["flash_bytes", "flash_bytes_uncompressed", "arena_bytes"] if micro else [
        "gzip_bytes"]
    columns = ["recipe", "options", "format", "status", *sizes, "x_smaller",
               f"val_{metric}", "val_diff_95", f"test_{metric}", "p50_ms", "pareto",
               *(["boards"] if micro else [])]
    failed = [f"{r['recipe']} {r['format'] or ''}: {r['status']}: {r['reason']}".replace("  ", " ")
              for r in result["rows"] if r["status"] != "ok"]
    pick = result["pick"]
    if pick is None:
        room = f" and fits {result['board']}" if result.get("board") else ""
        verdict = (f"no artifact's validation {metric} is within {result['accuracy_budget']} "
                   f"of the parent's {result['parent_val_score']:.4f} at the lower end of its "
                   f"95% interval{room}: raise --budget"
                   f"{' or choose a larger --board' if room else ''}")
    else:
        than = "in flash than the parent's" if micro else "than the parent's float32 TFLite"
        fits = (f"; fits {', '.join(pick['boards']) or 'none of the board classes'}"
                if micro else "")
        verdict = (f"pick: {pick['recipe']} {pick['format']} ({pick['x_smaller']}x smaller "
                   f"{than}{fits}; chosen on validation {metric} "
                   f"{pick['val_score']:.4f} against {result['parent_val_score']:.4f}, "
                   f"difference {_interval(pick)} over {result['val_examples']} examples; "
                   f"test {metric} {pick['test_score']:.4f} against "
                   f"{result['parent_score']:.4f}): {pick['path']}")
    shown = [{**r, **({"boards": " ".join(r["boards"]) or "none"} if "boards" in r else {}),
              **({"val_diff_95": _interval(r)} if "val_diff" in r else {})}
             for r in result["rows"]]
    if not result["complete"]:
        failed.append(f"{result['variants_done']} of {result['variants']} variants finished "
                      f"(study {result['study']}): run the same command again to finish")
    _emit(args, result, "\n".join([format_table(shown, columns), *failed, verdict]))
    return 0


def _interval(row: dict) -> str:
    """A row's paired difference from the parent with its 95% interval: +0.0074 [-0.0185,
    +0.0333]."""
    return f"{row['val_diff']:+.4f} [{row['val_diff_low']:+.4f}, {row['val_diff_high']:+.4f}]"


def cmd_export(args) -> int:
    import kerasmodels as km
    from kerasmodels.errors import ExportError
    from kerasmodels.formats import OPTIONS
    from kerasmodels.layout import EXPORTS_RECORD
    from kerasmodels.report import format_table, kilobytes
    from kerasmodels.runs import read_json

    artifacts = km.export(args.run, args.formats, progress=_progress(args), on_error="skip",
                          **_given(args, *OPTIONS))
    folder = km.load_run(args.run).path / EXPORTS
    record = read_json(folder / EXPORTS_RECORD)
    asked = args.formats or [a.format for a in artifacts] + list(record["failed"])
    unsupported = {f: r for f, r in record["unsupported"].items() if f in asked}
    failed = {f: entry for f, entry in record["failed"].items() if f in asked}
    rows = [{"format": a.format, "file": a.path.name, "kB": kilobytes(a.bytes),
             "gzip_kB": kilobytes(a.gzip_bytes),
             "top1_agreement": a.parity.get("top1_agreement"),
             "max_abs_diff": a.parity["max_abs_diff"],
             "accuracy": a.parity.get("accuracy", a.parity.get("mae")),
             **({"auc": a.parity["auc"]} if "auc" in a.parity else {}),
             "oldest_runtime": (a.runtime or {}).get("min_runtime_version")}
            for a in artifacts]
    lines = [format_table(rows)] if rows else []
    for artifact in artifacts:
        if artifact.device:
            device = artifact.device
            report = device.get("compression") or {}
            squeezed = (f" ({kilobytes(report['flash_bytes_before'])} kB before TFLM's "
                        f"compression of {len(report['tensors'])} weight tensors; arena "
                        f"{kilobytes(device['arena_bytes_uncompressed'])} kB before)"
                        if report.get("tensors") else "")
            lines.append(f"{artifact.format}: flash {kilobytes(device['flash_bytes'])} kB, "
                         f"tensor arena {kilobytes(device['arena_bytes'])} kB (measured in "
                         f"TFLM){squeezed}, ops {', '.join(device['ops'])}; " + (
                             f"TFLM agrees with LiteRT on {device['litert_agreement']:.2%} of "
                             "the test split" if "litert_agreement" in device else
                             f"TFLM's outputs differ from LiteRT's by up to "
                             f"{device['litert_max_abs_diff']:.3g} on the test split"))
        for left in (artifact.device or {}).get("compression", {}).get("left", []):
            lines.append(f"{artifact.format}: {left['tensor']} left uncompressed: "
                         f"{left['reason']}")
    lines += [f"not exported: {reason}" for reason in unsupported.values()]
    lines.append("oldest_runtime: the LiteRT / TensorFlow Lite version the file needs (its "
                 "min_runtime_version; exports.json has each op's version)")
    lines.append(f"wrote {folder}")
    _emit(args, {"folder": folder, "artifacts": [{**a.to_json(), "path": str(a.path)}
                                                 for a in artifacts],
                 "unsupported": unsupported, "failed": failed}, "\n".join(lines))
    if failed:  # what passed is written and listed above; the failures end in one line
        raise ExportError("; ".join(entry["reason"] for entry in failed.values()))
    return 0


def cmd_benchmark(args) -> int:
    import kerasmodels as km
    from kerasmodels.report import describe_machine, format_table

    given = _given(args, "calls", "threads")
    if "threads" in given:
        given["threads"] = tuple(given["threads"])
    rows = km.benchmark(args.run, progress=_progress(args), **given)
    root = km.load_run(args.run).path.parent / rows[0]["run"]
    _emit(args, {"rows": rows, "machine": describe_machine(),
                 "path": root / BENCHMARK},
          f"{format_table(rows)}\nlatency: the runtime alone, batch 1, interleaved; on "
          f"{describe_machine()}\nwrote {root / BENCHMARK} and {BENCHMARK_CSV}")
    return 0


def cmd_runs(args) -> int:
    import kerasmodels as km
    from kerasmodels.report import format_table

    rows, broken = km.runs_table(args.runs_dir)
    lines = [format_table(rows)] if rows else []
    lines += [f"BROKEN {path.name}: {reason}" for path, reason in broken]
    if not rows and not broken:
        lines = [f"no runs in {args.runs_dir}: train one with 'kerasmodels train --arch cnn'"]
    _emit(args, {"runs": rows, "broken": [{"path": str(path), "reason": reason}
                                          for path, reason in broken]}, "\n".join(lines))
    return 0


def cmd_archs(args) -> int:
    from kerasmodels.architectures import REGISTRY
    from kerasmodels.report import format_table

    rows = [{"arch": a.name, "family": a.family, "description": a.description,
             "hparams": a.hparams, "training": a.training} for a in REGISTRY.values()]
    shown = [{**row, "hparams": ", ".join(f"{k}={v!r}" for k, v in a.hparams.items()) or "-"}
             for row, a in zip(rows, REGISTRY.values(), strict=True)]
    _emit(args, rows, format_table(shown, ["arch", "family", "description", "hparams"]))
    return 0


def cmd_datasets(args) -> int:
    from kerasmodels.data import BUILTIN, ONLINE
    from kerasmodels.report import format_table

    rows = [{"name": name, "kind": "built in",
             "description": (fn.__doc__ or "").strip().splitlines()[0]}
            for name, fn in BUILTIN.items()]
    rows += [{"name": name, "kind": "online",
              "description": f"keras.datasets.{name} (or path=<local copy>)"} for name in ONLINE]
    rows += [{"name": "csv:<path>", "kind": "your file",
              "description": "numeric features, --target <column>"},
             {"name": "images:<dir>", "kind": "your files",
              "description": "one sub-folder per class, --image-size HxW"},
             {"name": "audio:<dir>", "kind": "your files",
              "description": "WAV clips in Speech Commands' layout, "
                             "--dataset-option keywords=yes,no"}]
    _emit(args, rows, format_table(rows))
    return 0


def cmd_demo(args) -> int:
    from kerasmodels.demo import build_demo

    build_demo(args.runs_dir, quick=args.quick, force=args.force, progress=_progress(args))
    cmd_runs(argparse.Namespace(runs_dir=args.runs_dir, json=False))
    if args.no_dashboard:
        return 0
    from kerasmodels.dashboard.serve import serve_dashboard

    return serve_dashboard(args.runs_dir, port=args.port, address=args.address)


def cmd_dashboard(args) -> int:
    from kerasmodels.dashboard.serve import serve_dashboard

    return serve_dashboard(args.runs_dir, port=args.port, address=args.address,
                           open_browser=not args.no_browser)


def cmd_docs(args) -> int:
    from kerasmodels.docs_site import docs

    site = docs(args.site_dir, config=args.config, port=args.port, address=args.address,
                serve=not args.build_only, open_browser=not args.no_browser)
    if args.build_only:
        print(site)
    return 0


@dataclass(frozen=True)
class Command:
    """A row of the command table: its name, its help, the function it runs and the one that
    adds its arguments (whose defaults are the API's)."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    json: bool = False  # it has a --json result
    usage: str | None = None


COMMANDS = [
    Command("train", "train an architecture on a dataset and save the run", cmd_train,
            _train_arguments, json=True),
    Command("import", "make a run of your own model (tf_keras or Keras 3 .keras/.h5 file, or "
                      "a SavedModel folder) on a dataset", cmd_import, _import_arguments,
            json=True),
    Command("search", "hyperparameter search with Optuna (TPE, median pruner); every trial is "
                      "a run", cmd_search, _search_arguments, json=True),
    Command("pretrain", "pretrain a transformer's encoder on unlabelled tokens (masked or "
                        "next-token prediction)", cmd_pretrain, _pretrain_arguments, json=True),
    Command("finetune", "a new head on a pretrained (or any classifier) run's backbone, "
                        "trained on a labelled dataset", cmd_finetune, _finetune_arguments,
            json=True),
    Command("launch", "run a command as N local workers over loopback "
                      "(MultiWorkerMirroredStrategy)", cmd_launch, _launch_arguments,
            usage="kerasmodels launch [--workers N] [--grace S] -- train ARGS..."),
    Command("lr-find", "LR range test: loss against a rising learning rate", cmd_lr_find,
            _lr_find_arguments, json=True),
    Command("compress", "prune, quantize-aware train, cluster, distill or channel-prune a run "
                        "into a child run", cmd_compress, _compress_arguments, json=True),
    Command("sweep", "compress every way, export, time, and pick the best edge model",
            cmd_sweep, _sweep_arguments, json=True),
    Command("export", "export a run to TFLite, ONNX and SavedModel, checked against Keras",
            cmd_export, _export_arguments, json=True),
    Command("benchmark", "size, accuracy and latency of every variant x runtime",
            cmd_benchmark, _benchmark_arguments, json=True),
    Command("runs", "list the runs and their metrics", cmd_runs, _runs_arguments, json=True),
    Command("archs", "list the architectures and their hyperparameters", cmd_archs, json=True),
    Command("datasets", "list the datasets", cmd_datasets, json=True),
    Command("demo", "train the demo models on the built-in data and open the dashboard on them",
            cmd_demo, _demo_arguments),
    Command("dashboard", "open the Streamlit dashboard in the browser", cmd_dashboard,
            _dashboard_arguments),
    Command("docs", "build the documentation site (guides, figures, API reference) and serve "
                    "it on this machine", cmd_docs, _docs_arguments),
]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # a usage error exits 2 here
    configure(-1 if args.quiet else min(int(args.verbose), 1))
    if not args.command:
        parser.print_help()
        return 0
    from kerasmodels.processes import insistent_interrupt

    with insistent_interrupt() as interrupt:
        try:
            return next(c for c in COMMANDS if c.name == args.command).run(args)
        except KeyboardInterrupt:
            interrupt["stopped"] = True
            print("interrupted: run the same command again to resume where it stopped",
                  file=sys.stderr)
            return 130
        except Exception as exc:  # one clear line, never a traceback
            interrupt["stopped"] = True
            return _error(exc)


def _error(exc: Exception) -> int:
    """The exit code of a command that raised ``exc``, its message printed in one line."""
    if os.environ.get("KERASMODELS_DEBUG"):
        raise exc
    from kerasmodels.errors import HyperparameterError, KerasModelsError, UnknownNameError

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not isinstance(exc, KerasModelsError):
        message = f"{type(exc).__name__}: {message} (KERASMODELS_DEBUG=1 shows the traceback)"
    print(f"kerasmodels: error: {message}", file=sys.stderr)
    return 2 if isinstance(exc, (HyperparameterError, UnknownNameError)) else 1


if __name__ == "__main__":
    sys.exit(main())
