"""Training steps per second: kerasmodels' optimizers against Keras' built-ins.

For each model (the digits CNN, the text transformer) and each optimizer, two copies of the
same model are compiled, one with ``<name>`` and one with ``keras:<name>``, warmed up (tracing
and XLA compilation), then timed in alternating (ABBA) rounds in this one process. Steps per
second are each side's mean; the ratio is the median of the per-round ratios (each round times
both sides back to back, so the machine's drift cancels and a disturbed round does not count).
TensorFlow runs on one thread by default, which keeps the scheduling noise of a small machine
out of the comparison. Prints a table and writes
bench-results/optimizers.json; the target is ours >= 0.95x built-in.

    .venv/bin/python scripts/bench_optimizers.py [--rounds 100] [--steps 10] [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

MODELS = [("cnn", "digits"), ("transformer", "text")]
OPTIMIZERS = ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"]
TARGET = 0.95


def train_steps(model, dataset, batch_size: int):
    """A function that runs ``n`` compiled train steps, the way ``fit`` runs them."""
    from kerasmodels.backend import tf

    x, y = dataset.train
    data = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(batch_size)
    iterator = iter(data.prefetch(2))
    train_function = model.make_train_function()

    def run(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            logs = train_function(iterator)
        float(logs["loss"])  # wait for the last step
        return time.perf_counter() - start

    return run


def bench_pair(arch: str, dataset, name: str, rounds: int, steps: int, batch_size: int) -> dict:
    import kerasmodels as km
    from kerasmodels.modeling import compile_for
    from kerasmodels.optimizers import make_optimizer

    lr = km.get_architecture(arch).training.get("learning_rate", 1e-3)
    runners = {}
    initial = None
    for label in (name, f"keras:{name}"):
        model = km.build_model(arch, dataset)
        if initial is None:
            initial = model.get_weights()
        model.set_weights(initial)
        compile_for(model, dataset.task, make_optimizer(label, lr))
        runners[label] = train_steps(model, dataset, batch_size)
        runners[label](5)  # warm-up: trace and compile
    times = {label: [] for label in runners}
    gc.disable()
    try:
        for i in range(rounds):  # ABBA order, so drift and cache effects fall on both sides
            for label in (list(runners) if i % 2 == 0 else list(runners)[::-1]):
                times[label].append(runners[label](steps))
    finally:
        gc.enable()
    ours, theirs = times.values()
    ratio = statistics.median(b / a for a, b in zip(ours, theirs, strict=True))
    return {"model": f"{arch}/{dataset.name}", "optimizer": name,
            "ours_steps_s": round(steps * len(ours) / sum(ours), 1),
            "keras_steps_s": round(steps * len(theirs) / sum(theirs), 1),
            "ratio": round(ratio, 3), "ok": ratio >= TARGET}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--steps", type=int, default=10, help="train steps per timed round")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1,
                        help="TensorFlow intra/inter-op threads (1: least scheduling noise)")
    bench_options(parser, ROOT / "bench-results" / "optimizers.json",
                  "2 rounds of 5 steps, adam only")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.steps = 2, 5
    from kerasmodels.backend import tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from tqdm.auto import tqdm

    import kerasmodels as km

    names = ["adam"] if args.quick else OPTIMIZERS
    rows = []
    with tqdm(total=len(MODELS) * len(names), desc="optimizers", unit="pair") as bar:
        for arch, dataset_name in MODELS:
            dataset = km.load_dataset(dataset_name)
            for name in names:
                rows.append(bench_pair(arch, dataset, name, args.rounds, args.steps,
                                       args.batch_size))
                bar.update()
    print(format_table(rows))
    worst = min(row["ratio"] for row in rows)
    print(f"slowest ratio ours/keras: {worst:.3f} (target >= {TARGET})")
    write_results(args.out, settings={"rounds": args.rounds, "steps": args.steps,
                                      "batch_size": args.batch_size, "threads": args.threads},
                  target=TARGET, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
