"""The ``kerasmodels`` command: a thin layer over the public API.

Errors are one line on stderr and a non-zero exit; set ``KERASMODELS_DEBUG=1`` to see the
traceback.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from pathlib import Path

from kerasmodels._version import __version__

LOOPBACK = "127.0.0.1"
ADDRESS_HELP = ("interface to listen on (default 127.0.0.1: this machine only); 0.0.0.0 opens "
                "the dashboard, which has no login, to the whole network")
UPLOAD_LIMIT_MB = 50  # the largest file any dashboard page accepts
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
    t.add_argument("--strategy", choices=["minibatch", "batch", "sgd"], default="minibatch",
                   help="minibatch (--batch-size per step), batch (full-batch gradient "
                        "descent) or sgd (one example per step)")
    t.add_argument("--optimizer", default="adam",
                   help="sgd, momentum, nesterov, rmsprop, adam, adamw (from their formulas); "
                        "keras:<name> for Keras' built-in")
    t.add_argument("--optimizer-option", type=_key_value, action="append", default=[],
                   metavar="KEY=VALUE", help="e.g. beta_1=0.8, momentum=0.95, centered=True")
    t.add_argument("--learning-rate", type=float, help="default: the architecture's")
    t.add_argument("--schedule", choices=["constant", "step", "exponential", "cosine", "plateau"],
                   help="learning-rate schedule (default constant)")
    t.add_argument("--schedule-option", type=_key_value, action="append", default=[],
                   metavar="KEY=VALUE", help="e.g. every=5, drop=0.5, warmup_epochs=2, patience=3")
    t.add_argument("--regularizer", choices=["none", "l1", "l2", "l1l2"], default="none")
    t.add_argument("--reg-strength", type=float, default=1e-4)
    t.add_argument("--reg-warmup-epochs", type=int, metavar="N",
                   help="ramp the regularization strength up linearly over N epochs")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    _dataset_arguments(t)
    t.add_argument("--hparam", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="architecture hyperparameter, e.g. --hparam hidden_units=[64,32]")
    t.add_argument("--out-dir", default="saved_models")
    t.add_argument("--no-resume", action="store_true", help="start over instead of resuming")
    t.add_argument("--checkpoint-every", type=float, default=None, metavar="SECONDS",
                   help="save the resumable state at an epoch's end at most this often "
                        "(default 10; 0: every epoch)")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--distribution", choices=["mirrored", "multiworker"],
                   help="mirrored: every local device (KERASMODELS_CPU_DEVICES=N splits the CPU); "
                        "multiworker: the cluster in TF_CONFIG. --batch-size is then per replica")

    im = sub.add_parser("import", help="make a run of your own model (tf_keras or Keras 3 "
                                       ".keras/.h5 file, or a SavedModel folder) on a dataset")
    im.add_argument("path", help="a .keras or .h5 file, or a SavedModel folder")
    im.add_argument("--dataset", required=True,
                    help="the data to evaluate it on: digits, ..., csv:<path>, images:<folder>")
    im.add_argument("--name", help="the run's name (default: the model's)")
    im.add_argument("--signature", default="serving_default",
                    help="a SavedModel's signature (default serving_default)")
    _dataset_arguments(im)
    im.add_argument("--out-dir", default="saved_models")

    se = sub.add_parser("search", help="hyperparameter search with Optuna (TPE, median pruner); "
                                       "every trial is a run")
    se.add_argument("--arch", default="mlp")
    se.add_argument("--dataset", default="digits")
    se.add_argument("--trials", type=int, default=20)
    se.add_argument("--epochs", type=int, help="per trial (default: the architecture's)")
    se.add_argument("--timeout", type=float, help="seconds for the whole search")
    se.add_argument("--space", type=json.loads, metavar="JSON",
                    help='e.g. \'{"learning_rate": [1e-4, 1e-2, "log"], "optimizer": '
                         '["adam", "sgd"]}\' (lists of two numbers are ranges)')
    se.add_argument("--out-dir", default="saved_models")

    p = sub.add_parser("pretrain", help="pretrain a transformer's encoder on unlabelled tokens "
                                        "(masked or next-token prediction)")
    p.add_argument("--arch", default="transformer")
    p.add_argument("--corpus", default="text", help="a token dataset (default: generated text)")
    p.add_argument("--corpus-option", type=_key_value, action="append", default=[],
                   metavar="KEY=VALUE", help="e.g. context=0.8, n=6000")
    p.add_argument("--objective", choices=["masked", "next_token"], default="masked")
    p.add_argument("--epochs", type=int, help="default 10")
    p.add_argument("--learning-rate", type=float, help="default 1e-3")
    p.add_argument("--mask-rate", type=float, help="default 0.15")
    p.add_argument("--hparam", type=_key_value, action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default="saved_models")
    p.add_argument("--quiet", action="store_true")

    ft = sub.add_parser("finetune", help="a new head on a pretrained (or any classifier) run's "
                                         "backbone, trained on a labelled dataset")
    ft.add_argument("run", help="the pretrained run's directory (or its id under saved_models/)")
    ft.add_argument("--dataset", default="text")
    ft.add_argument("--dataset-option", type=_key_value, action="append", default=[],
                    metavar="KEY=VALUE", help="e.g. classes=[5,6,7,8,9], context=0.8")
    ft.add_argument("--freeze", choices=["encoder", "none"], default="encoder",
                    help="encoder: train the head only; none: everything, the backbone slower")
    ft.add_argument("--epochs", type=int, help="default 10")
    ft.add_argument("--learning-rate", type=float, help="the head's; default 1e-3")
    ft.add_argument("--backbone-factor", type=float,
                    help="the backbone's learning rate over the head's (with --freeze none; "
                         "default 0.5)")
    ft.add_argument("--labelled-fraction", type=float,
                    help="train on this stratified share of the labels (default all)")
    ft.add_argument("--compare-scratch", action="store_true",
                    help="also train the architecture from scratch on the same labels")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--out-dir", help="default: next to the pretrained run")

    la = sub.add_parser("launch", help="run a command as N local workers over loopback "
                                       "(MultiWorkerMirroredStrategy)",
                        usage="kerasmodels launch [--workers N] [--grace S] -- train ARGS...")
    la.add_argument("--workers", type=int, default=2)
    la.add_argument("--grace", type=float, default=30.0,
                    help="seconds the others get to stop after a worker fails")
    la.add_argument("worker_command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                    help="the kerasmodels command each worker runs, e.g. -- train --arch mlp")

    f = sub.add_parser("lr-find", help="LR range test: loss against a rising learning rate")
    f.add_argument("--arch", default="cnn")
    f.add_argument("--dataset", default="digits")
    f.add_argument("--optimizer", default="adam")
    f.add_argument("--steps", type=int, default=100)

    from kerasmodels.compression import RECIPES

    c = sub.add_parser("compress", help="prune, quantize-aware train, cluster, distill or "
                                        "channel-prune a run into a child run")
    c.add_argument("run", help="run directory (or its id under saved_models/)")
    c.add_argument("--recipe", required=True, choices=RECIPES, metavar="RECIPE",
                   help=", ".join(RECIPES))
    c.add_argument("--option", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="recipe option, e.g. target_sparsity=0.8, clusters=16, keep=0.5, "
                        "student=cnn_small, structured_2_4=True")

    w = sub.add_parser("sweep", help="compress every way, export, time, and pick the best edge "
                                     "model")
    w.add_argument("run", help="run directory (or its id under saved_models/)")
    w.add_argument("--budget", type=float, default=0.005,
                   help="accuracy the pick may lose against the parent (0.005: half a point)")
    w.add_argument("--calls", type=int, default=100, help="batch-1 calls timed per artifact")

    e = sub.add_parser("export", help="export a run to TFLite, ONNX and SavedModel, checked "
                                      "against Keras")
    e.add_argument("run", help="run directory (or its id under saved_models/)")
    from kerasmodels.formats import OPTIONS, export_formats, format_names

    e.add_argument("--formats", nargs="+", metavar="FORMAT", choices=format_names(),
                   help="; ".join(f"{f.name}: {f.device}" + (" (made when named)"
                                                            if not f.default else "")
                                  for f in export_formats()) + " (default: "
                        f"{' '.join(format_names(default=True))})")
    e.add_argument("--opset", type=int, help=OPTIONS["opset"].help)
    e.add_argument("--float-io", dest="int8_io", action="store_false", default=None,
                   help=OPTIONS["int8_io"].help)
    for name in ("author", "version", "description"):
        e.add_argument(f"--{'model-version' if name == 'version' else name}", dest=name,
                       help=OPTIONS[name].help)

    b = sub.add_parser("benchmark", help="size, accuracy and latency of every variant x runtime")
    b.add_argument("run", help="any run of the family (the root and its compressed children)")
    b.add_argument("--threads", type=int, nargs="+", default=[1], help="LiteRT thread counts")
    b.add_argument("--calls", type=int, default=200, help="batch-1 calls timed per variant")

    r = sub.add_parser("runs", help="list the runs and their metrics")
    r.add_argument("--runs-dir", default="saved_models")

    sub.add_parser("archs", help="list the architectures and their hyperparameters")
    sub.add_parser("datasets", help="list the datasets")

    d = sub.add_parser("demo", help="train the demo models on the built-in data and open the "
                                    "dashboard on them")
    d.add_argument("--runs-dir", default="saved_models")
    d.add_argument("--force", action="store_true", help="train them even if runs exist")
    d.add_argument("--no-dashboard", action="store_true", help="only build the demo models")
    d.add_argument("--port", type=int, default=8501)
    d.add_argument("--address", default=LOOPBACK, help=ADDRESS_HELP)

    s = sub.add_parser("dashboard", help="open the Streamlit dashboard in the browser")
    s.add_argument("--runs-dir", default="saved_models")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--address", default=LOOPBACK, help=ADDRESS_HELP)
    s.add_argument("--headless", action="store_true", help="do not open a browser window")
    return parser


def cmd_train(args) -> int:
    import kerasmodels as km

    run = km.train(
        args.arch, args.dataset, epochs=args.epochs, batch_size=args.batch_size,
        strategy=args.strategy, optimizer=args.optimizer, learning_rate=args.learning_rate,
        optimizer_options=dict(args.optimizer_option), schedule=args.schedule,
        schedule_options=dict(args.schedule_option),
        regularizer=None if args.regularizer == "none" else args.regularizer,
        reg_strength=args.reg_strength, reg_warmup_epochs=args.reg_warmup_epochs,
        seed=args.seed, out_dir=args.out_dir,
        early_stopping=args.early_stopping, resume=not args.no_resume,
        **({} if args.checkpoint_every is None else {"checkpoint_every": args.checkpoint_every}),
        verbose=0 if args.quiet else 1, dataset_options=_dataset_options(args),
        distribution=args.distribution, **dict(args.hparam),
    )
    if run is None:
        print("worker done (the chief saves the run)")
        return 0
    test = ", ".join(f"{k} {v:.4f}" for k, v in run.metrics["test"].items())
    print(f"saved {run.path}  (test: {test})")
    return 0


def cmd_import(args) -> int:
    import kerasmodels as km

    run = km.import_model(args.path, args.dataset, out_dir=args.out_dir, name=args.name,
                          signature=args.signature, dataset_options=_dataset_options(args))
    test = ", ".join(f"{k} {v:.4f}" for k, v in run.metrics["test"].items())
    source = run.manifest["source"]
    rebuilt = (f"; rebuilt from Keras {source['version']}, max abs difference "
               f"{source['max_abs_difference']:.2g}" if "max_abs_difference" in source else "")
    print(f"saved {run.path}  (test: {test}{rebuilt})")
    return 0


def cmd_search(args) -> int:
    import kerasmodels as km
    from kerasmodels.report import format_table

    space = None
    if args.space is not None:
        space = {k: tuple(v) if isinstance(v, list) and len(v) in (2, 3) and
                 all(isinstance(x, (int, float)) for x in v[:2]) and
                 (len(v) == 2 or v[2] == "log") else v for k, v in args.space.items()}
    result = km.search(args.arch, args.dataset, trials=args.trials, timeout=args.timeout,
                       space=space, out_dir=args.out_dir, epochs=args.epochs)
    rows = [{"trial": t["number"], "state": t["state"], "value": t.get("value"),
             "epochs": t.get("epochs_run"), "run": t["run"],
             **{k: v for k, v in t["params"].items()}} for t in result.trials]
    print(format_table(rows))
    print(f"best: {result.best_run.id} "
          f"{result.best_params}")
    print(f"wrote {result.path}")
    return 0


def _given(args, *names: str) -> dict:
    """The options the user gave (the API keeps the defaults, in one place)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def cmd_pretrain(args) -> int:
    import kerasmodels as km

    run = km.pretrain(args.arch, args.corpus, objective=args.objective, seed=args.seed,
                      out_dir=args.out_dir, corpus_options=dict(args.corpus_option),
                      verbose=0 if args.quiet else 1, **_given(args, "epochs", "mask_rate",
                                                                 "learning_rate"),
                      **dict(args.hparam))
    print(f"saved {run.path}  (held-out token accuracy "
          f"{run.metrics['test']['token_accuracy']:.4f})")
    return 0


def cmd_finetune(args) -> int:
    import kerasmodels as km

    run = km.finetune(args.run, args.dataset, freeze=args.freeze, seed=args.seed,
                      dataset_options=dict(args.dataset_option),
                      compare_scratch=args.compare_scratch, out_dir=args.out_dir,
                      **_given(args, "epochs", "learning_rate", "backbone_factor",
                               "labelled_fraction"))
    record = run.manifest["finetune"]
    line = (f"saved {run.path}  (test accuracy {run.metrics['test']['accuracy']:.4f} from "
            f"{record['labelled_examples']} labels")
    if "scratch" in record:
        line += f"; from scratch {record['scratch']['test']['accuracy']:.4f}"
    print(line + ")")
    return 0


def cmd_launch(args) -> int:
    from kerasmodels.distribute import launch

    command = args.worker_command
    command = command[1:] if command[:1] == ["--"] else command
    return launch(command, args.workers, grace=args.grace)


def cmd_lr_find(args) -> int:
    import kerasmodels as km
    from kerasmodels.report import format_table

    found = km.find_learning_rate(args.arch, args.dataset, optimizer=args.optimizer,
                                  steps=args.steps)
    pairs = list(zip(found["learning_rates"], found["smoothed"], strict=True))
    shown = pairs[:: max(1, len(pairs) // 12)]
    print(format_table([{"learning_rate": f"{lr:.2e}", "smoothed_loss": round(loss, 4)}
                        for lr, loss in shown]))
    print(f"suggested learning rate: {found['suggested']:.2e} (a tenth of the rate at the "
          f"lowest loss, {found['min_loss_lr']:.2e})")
    return 0


def cmd_compress(args) -> int:
    import kerasmodels as km

    child = km.compress(args.run, args.recipe, **dict(args.option))
    test = ", ".join(f"{k} {v:.4f}" for k, v in child.metrics["test"].items())
    parent = km.load_run(args.run)
    before = ", ".join(f"{k} {v:.4f}" for k, v in parent.metrics["test"].items())
    print(f"saved {child.path}  (test: {test}; parent: {before})")
    return 0


def cmd_sweep(args) -> int:
    import kerasmodels as km
    from kerasmodels.report import format_table

    result = km.sweep(args.run, accuracy_budget=args.budget, calls=args.calls)
    columns = ["recipe", "options", "format", "gzip_bytes", "x_smaller", "val_accuracy",
               "test_accuracy", "p50_ms", "pareto"]
    print(format_table(result["rows"], columns))
    pick = result["pick"]
    if pick is None:
        print(f"no artifact is within {args.budget} of the parent's validation accuracy "
              f"{result['parent_val_accuracy']:.4f}: raise --budget")
    else:
        print(f"pick: {pick['recipe']} {pick['format']} ({pick['x_smaller']}x smaller than the "
              f"parent's float32 TFLite, chosen on validation {pick['val_accuracy']:.4f} "
              f"against {result['parent_val_accuracy']:.4f}; test accuracy "
              f"{pick['test_accuracy']:.4f} against {result['parent_accuracy']:.4f}): "
              f"{pick['path']}")
    return 0


def cmd_export(args) -> int:
    import kerasmodels as km
    from kerasmodels.formats import OPTIONS
    from kerasmodels.report import format_table, kilobytes
    from kerasmodels.runs import read_json

    options = {name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None}
    artifacts = km.export(args.run, args.formats, progress=True, **options)
    rows = [{"format": a.format, "file": a.path.name, "kB": kilobytes(a.bytes),
             "gzip_kB": kilobytes(a.gzip_bytes),
             "top1_agreement": a.parity.get("top1_agreement"),
             "max_abs_diff": a.parity["max_abs_diff"],
             "accuracy": a.parity.get("accuracy", a.parity.get("mae"))} for a in artifacts]
    print(format_table(rows))
    for artifact in artifacts:
        if artifact.device:
            device = artifact.device
            print(f"{artifact.format}: flash {kilobytes(device['flash_bytes'])} kB, tensor arena "
                  f"{kilobytes(device['arena_bytes'])} kB (measured in TFLM), ops "
                  f"{', '.join(device['ops'])}; TFLM agrees with LiteRT on "
                  f"{device['litert_agreement']:.2%} of the test split")
    folder = artifacts[0].path.parent
    for reason in read_json(folder / "exports.json")["unsupported"].values():
        print(f"not exported: {reason}")
    print(f"wrote {folder}")
    return 0


def cmd_benchmark(args) -> int:
    import kerasmodels as km
    from kerasmodels.report import describe_machine, format_table

    rows = km.benchmark(args.run, threads=tuple(args.threads), calls=args.calls)
    print(format_table(rows))
    print(f"latency: the runtime alone, batch 1, interleaved; on {describe_machine()}")
    root = km.load_run(args.run).path.parent / rows[0]["run"]
    print(f"wrote {root / 'benchmark.json'} and benchmark.csv")
    return 0


def cmd_runs(args) -> int:
    import kerasmodels as km
    from kerasmodels.report import format_table

    rows, broken = km.runs_table(args.runs_dir)
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
    from kerasmodels.formats import format_names

    existing = km.list_runs(args.runs_dir)
    if existing and not args.force:
        print(f"{len(existing)} runs already in {args.runs_dir} (use --force to train again)")
    else:
        for arch, dataset in DEMO:
            print(f"== {arch} on {dataset}")
            run = km.train(arch, dataset, out_dir=args.runs_dir)
            if arch == "cnn":  # a family to compare and to try in the Playground
                print("== the digits CNN's variants: distilled student, QAT, exports")
                children = [km.compress(run, "distill"), km.compress(run, "qat")]
                for member in (run, *children):
                    km.export(member, format_names(quick=True), progress=True)
                km.benchmark(run, calls=50)
    cmd_runs(argparse.Namespace(runs_dir=args.runs_dir))
    if args.no_dashboard:
        return 0
    return cmd_dashboard(argparse.Namespace(runs_dir=args.runs_dir, port=args.port,
                                            address=args.address, headless=False))


def dashboard_command(runs_dir: str, port: int, address: str = LOOPBACK) -> tuple[list[str], dict]:
    """The ``streamlit run`` command line and environment that serve the dashboard.

    Every server option is explicit: headless (no first-run e-mail prompt, which exits a
    process without a terminal), no usage statistics, no file watcher, uploads capped at what
    the pages accept, and no tracebacks in the browser.
    """
    import ipaddress

    from kerasmodels.errors import KerasModelsError

    app = Path(__file__).resolve().parents[1] / "apps" / "dashboard" / "app.py"
    if not app.is_file():
        raise KerasModelsError(f"the dashboard is not installed ({app} is missing): run "
                               "kerasmodels from a checkout of the repository")
    if isinstance(port, bool) or not 0 < port < 65536:
        raise KerasModelsError(f"--port must be in 1..65535, got {port}")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise KerasModelsError(f"--address must be an IP address such as 127.0.0.1 or 0.0.0.0, "
                               f"got {address!r}") from None
    command = [sys.executable, "-m", "streamlit", "run", str(app),
               "--server.address", address, "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--server.runOnSave", "false",
               "--server.maxUploadSize", str(UPLOAD_LIMIT_MB),
               "--server.maxMessageSize", "200",
               # no full gc.collect(2) after every script run: it walks every loaded model
               # holding the GIL (the app spaces its full collections: common.collect_garbage)
               "--runner.postScriptGC", "false",
               "--client.showErrorDetails", "false", "--client.toolbarMode", "minimal"]
    env = {**os.environ, "KERASMODELS_RUNS_DIR": str(Path(runs_dir).resolve())}
    return command, env


def cmd_dashboard(args) -> int:
    import ipaddress

    from kerasmodels.processes import run_owned

    command, env = dashboard_command(args.runs_dir, args.port, args.address)
    shown = "localhost" if ipaddress.ip_address(args.address).is_loopback else args.address
    url = f"http://{shown}:{args.port}"
    if not ipaddress.ip_address(args.address).is_loopback:
        print(f"warning: the dashboard listens on {args.address}, so anyone who can reach this "
              "machine can use it: it has no login. Use --address 127.0.0.1 to keep it local.",
              file=sys.stderr)
    print(f"dashboard on {url} (runs: {args.runs_dir}); Ctrl+C or SIGTERM stops it")
    opener = None if args.headless or os.environ.get("CI") else (lambda _p: _open_when_up(url))
    return run_owned(command, env=env, on_started=opener)


def _open_when_up(url: str) -> None:
    """Open the browser once the server answers (in the background: the CLI keeps waiting)."""
    import threading
    import urllib.request
    import webbrowser

    def wait_then_open():
        import time

        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                webbrowser.open(url)
                return
            except OSError:
                time.sleep(0.5)

    threading.Thread(target=wait_then_open, daemon=True).start()


COMMANDS = {"train": cmd_train, "import": cmd_import, "pretrain": cmd_pretrain, "finetune": cmd_finetune,
            "launch": cmd_launch, "search": cmd_search, "lr-find": cmd_lr_find, "compress": cmd_compress,
            "sweep": cmd_sweep, "export": cmd_export,
            "benchmark": cmd_benchmark, "runs": cmd_runs, "archs": cmd_archs,
            "datasets": cmd_datasets, "demo": cmd_demo, "dashboard": cmd_dashboard}


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
