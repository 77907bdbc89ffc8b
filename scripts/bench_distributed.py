"""Distributed training on this machine: samples per second with 1 and 2 local workers
(MultiWorkerMirroredStrategy over loopback) and the share of time spent communicating; each
row also says whether every worker ended with bit-identical weights (their logged sha256).

Each configuration trains the digits CNN with the same global batch (64) through
``kerasmodels launch --workers N -- train ...``. The communication share is the all-reduce of
gradient-sized tensors that every step pays (measured by each run after training,
``allreduce_ms_per_step`` in its manifest) times the steps, over the training time. On a
2-core machine two workers also compete for the same cores: the speed-up cannot exceed 1 here,
and the script reports what it measures. Writes bench-results/distributed.json.

    .venv/bin/python scripts/bench_distributed.py [--epochs 5]
    .venv/bin/python scripts/bench_distributed.py --quick     # CI: checks the script works
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

GLOBAL_BATCH = 64


def measure(workers: int, epochs: int, out: Path) -> dict:
    import kerasmodels as km

    log = io.StringIO()
    code = km.launch(["train", "--arch", "cnn", "--epochs", str(epochs), "--batch-size",
                      str(GLOBAL_BATCH // workers), "--out-dir", str(out)], workers, out=log)
    if code:
        raise SystemExit(f"{workers} worker(s) failed:\n{log.getvalue()[-2000:]}")
    # every worker logs the digest of the weights it ended with
    digests = dict(re.findall(r"worker (\d+) of \d+: .*weights sha256 (\w+)", log.getvalue()))
    (run,) = km.list_runs(out)  # only the chief writes a run
    training = run.manifest["training"]
    record = training["distribution"]
    samples = len(run.dataset().train[0]) * training["epochs_run"]
    steps = training["steps_per_epoch"] * training["epochs_run"]
    communication = record["allreduce_ms_per_step"] * steps / 1000
    return {"workers": workers, "global_batch": record["global_batch"],
            "train_seconds": training["seconds"],
            "samples_per_s": round(samples / training["seconds"], 1),
            "allreduce_ms_per_step": record["allreduce_ms_per_step"],
            "communication_share": round(communication / training["seconds"], 3),
            "test_accuracy": round(run.metrics["test"]["accuracy"], 4),
            "workers_reporting": len(digests),
            "identical_weights": len(set(digests.values())) == 1
            and record["weights_sha256"] in digests.values()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    bench_options(parser, ROOT / "bench-results" / "distributed.json",
                  "3 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 3
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            rows.append(measure(workers, args.epochs, Path(tmp) / f"w{workers}"))
    print(format_table(rows))
    speedup = rows[1]["samples_per_s"] / rows[0]["samples_per_s"]
    print(f"2 workers / 1 worker: {speedup:.2f}x samples per second on {len(rows)} local workers "
          f"sharing this machine's cores")
    write_results(args.out, rows=rows, speedup=round(speedup, 3), epochs=args.epochs,
                  quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
