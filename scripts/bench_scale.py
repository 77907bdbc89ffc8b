"""A sweep on Optuna's storage: one worker against two, a killed sweep resumed, and whether
the interval pick holds on the test split over five seeds.

1. **Workers** (not in ``--quick``): the digits CNN's whole sweep (``kerasmodels sweep RUN --workers N``, every
   default recipe, the phone formats) with one worker and with two, each on its own copy of
   the run and its own study: wall time (TensorFlow's start-up included) and variants per
   minute, and whether both sweeps measured the same rows and made the same pick.
2. **Resume**: the same sweep with two workers (one in ``--quick``), killed (SIGKILL, helpers
   included) once a third of the variants are finished, then started again with two: the variants finished twice (the
   target is zero), the children trained again, and the wall time of the rest.
3. **Five seeds**: a digits CNN per seed and its sweep at a budget of 0.01; the pick's test
   accuracy against the parent's, and whether the drop stays within the budget plus the
   half-width of the pick's interval. Beside it, the rule it replaced (the smallest artifact
   whose validation accuracy alone is within the budget): what it would have picked and lost.

    .venv/bin/python scripts/bench_scale.py
    .venv/bin/python scripts/bench_scale.py --quick     # CI: checks the script works
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

BUDGET = 0.01
SEEDS = (0, 1, 2, 3, 4)
QUICK_RECIPES = ["qat"]  # --recipe NAME with its default options
COMPARED = ("recipe", "options", "format", "status", "val_score", "val_diff", "val_diff_low",
            "val_diff_high", "test_score")


def sweep_command(run: Path, workers: int, recipes: list[str]) -> list[str]:
    return [sys.executable, "-m", "kerasmodels", "sweep", str(run), "--workers", str(workers),
            "--budget", str(BUDGET), "--json", "-q",
            *[a for name in recipes for a in ("--recipe", name)]]


def copy_of(run: Path, folder: Path) -> Path:
    """The run alone in a runs folder of its own (so its sweep's study is a new one)."""
    folder.mkdir(parents=True)
    return Path(shutil.copytree(run, folder / run.name,
                                ignore=shutil.ignore_patterns("sweep.json", "benchmark.*")))


def rows_of(result: dict) -> list[tuple]:
    return [tuple(row.get(key) for key in COMPARED) for row in result["rows"]]


def picked(result: dict) -> tuple:
    pick = result["pick"] or {}
    return pick.get("recipe"), pick.get("options"), pick.get("format")


def timed_sweep(run: Path, workers: int, recipes: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(sweep_command(run, workers, recipes), cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"sweep with {workers} workers failed: {done.stderr[-2000:]}")
    return time.perf_counter() - start, json.loads(done.stdout)


def workers_part(parent: Path, scratch: Path, recipes: list[str]) -> dict:
    """One worker against two, each on a fresh copy and study."""
    found, results = [], {}
    for workers in (1, 2):
        wall, result = timed_sweep(copy_of(parent, scratch / f"workers-{workers}"), workers,
                                   recipes)
        results[workers] = result
        found.append({"workers": workers, "wall_s": round(wall, 1),
                      "variants": result["variants"],
                      "variants_per_minute": round(60 * result["variants"] / wall, 2),
                      "pick": f"{result['pick']['recipe']} {result['pick']['format']}"
                      if result["pick"] else None})
    return {"rows": found, "speedup": round(found[0]["wall_s"] / found[1]["wall_s"], 2),
            "same_rows": rows_of(results[1]) == rows_of(results[2]),
            "same_pick": picked(results[1]) == picked(results[2]),
            "serial": results[1]}


def study_trials(run: Path, study: str) -> list:
    import optuna

    storage = f"sqlite:///{run.parent / '.searches' / 'searches.db'}"
    return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)


def resume_part(parent: Path, scratch: Path, recipes: list[str], serial: dict,
                quick: bool = False) -> dict:
    """Killed once a third of the variants are finished, started again with two workers
    (``quick``: the killed one had one, which saves a TensorFlow start)."""
    run = copy_of(parent, scratch / "resume")
    command = sweep_command(run, 2, recipes)
    first = subprocess.Popen(sweep_command(run, 1 if quick else 2, recipes), cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    variants = len(recipes) + 1 if recipes else None
    deadline, kept = time.monotonic() + 1800, {}
    while time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.5)
        sweep = run / "sweep.json"
        if not sweep.exists():
            continue
        kept = json.loads(sweep.read_text())
        variants = kept["variants"]
        if kept["variants_done"] >= max(1, variants // 3):
            break
    os.kill(first.pid, signal.SIGKILL)  # its helper gets SIGTERM as its parent dies
    first.wait()
    time.sleep(1)
    children_before = {p.name for p in run.parent.iterdir() if p.is_dir()} - {run.name}
    finished_before = kept["variants_done"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"resumed sweep failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    trials = study_trials(run, result["study"])
    complete = [t.params["variant"] for t in trials if t.state.name == "COMPLETE"]
    children_after = {p.name for p in run.parent.iterdir() if p.is_dir()} - {run.name}
    return {"variants": variants, "finished_before_kill": finished_before,
            "variants_finished_twice": len(complete) - len(set(complete)),
            "trials_failed_by_the_kill": sum(t.state.name == "FAIL" for t in trials),
            "children_before_kill": len(children_before),
            "children_made_after": len(children_after - children_before),
            "variants_left": variants - finished_before,
            "resumed_wall_s": round(wall, 1), "complete": result["complete"],
            "same_rows_as_serial": rows_of(result) == rows_of(serial)}


def seeds_part(scratch: Path, seeds: tuple[int, ...], recipes: list[dict] | None,
               parent: Path | None = None) -> tuple[list[dict], dict]:
    """A digits CNN per seed (or ``parent`` alone), swept; the interval pick against the
    point-estimate rule. Returns the rows and the first sweep's result."""
    import kerasmodels as km

    found, first = [], None
    for seed in seeds:
        run = (copy_of(parent, scratch / "seed-parent") if parent is not None else
               km.train("cnn", "digits", seed=seed, verbose=0, out_dir=scratch / f"seed-{seed}"))
        result = km.sweep(run, accuracy_budget=BUDGET, recipes=recipes, calls=20,
                          progress=False)
        first = first or result
        ok = [r for r in result["rows"] if r["status"] == "ok"]
        pick, parent_test = result["pick"], result["parent_score"]
        point = min((r for r in ok if r["val_diff"] >= -BUDGET - 1e-9),
                    key=lambda r: (r["gzip_bytes"], -r["val_score"]), default=None)
        half = (pick["val_diff_high"] - pick["val_diff_low"]) / 2
        drop = parent_test - pick["test_score"]
        found.append({
            "seed": seed, "parent_test": round(parent_test, 4),
            "pick": f"{pick['recipe']} {pick['options']} {pick['format']}".replace("  ", " "),
            "pick_x_smaller": pick["x_smaller"], "pick_test": pick["test_score"],
            "test_drop_pp": round(100 * drop, 2),
            "val_diff_95": f"{pick['val_diff']:+.4f} [{pick['val_diff_low']:+.4f}, "
                           f"{pick['val_diff_high']:+.4f}]",
            "allowed_pp": round(100 * (BUDGET + half), 2),
            "within": drop <= BUDGET + half + 1e-9,
            "point_rule_pick": f"{point['recipe']} {point['options']} {point['format']}"
            .replace("  ", " ") if point else None,
            "point_rule_x_smaller": point["x_smaller"] if point else None,
            "point_rule_test_drop_pp": round(100 * (parent_test - point["test_score"]), 2)
            if point else None})
    assert first is not None
    return found, first


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_options(parser, ROOT / "bench-results" / "scale.json",
                  "a 2-epoch model, one recipe, no one-against-two timing, the same model "
                  "for the seed check")
    args = parser.parse_args(argv)
    import kerasmodels as km

    recipes = QUICK_RECIPES if args.quick else []  # []: the sweep's own list
    epochs = 2 if args.quick else None
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        scratch = Path(tmp)
        parent = km.train("cnn", "digits", epochs=epochs, verbose=0,
                          out_dir=scratch / "parent").path
        workers = None
        if args.quick:  # the serial sweep in this process: what the resumed one must equal
            seeds, serial = seeds_part(scratch, SEEDS[:1], [{"recipe": r} for r in recipes],
                                       parent)
        else:
            workers = workers_part(parent, scratch, recipes)
            serial = workers.pop("serial")
            print(format_table(workers["rows"]))
            print(f"two workers: {workers['speedup']}x the variants per minute of one; same "
                  f"rows {workers['same_rows']}, same pick {workers['same_pick']}")
        resumed = resume_part(parent, scratch, recipes, serial, args.quick)
        print(format_table([resumed]))
        if not args.quick:
            seeds, _ = seeds_part(scratch, SEEDS, None)
        print(format_table(seeds))
    within = sum(row["within"] for row in seeds)
    print(f"interval pick within budget + half-width on test: {within} of {len(seeds)} seeds; "
          f"median test drop {statistics.median(r['test_drop_pp'] for r in seeds):+.2f} pp")
    write_results(args.out, quick=args.quick, budget=BUDGET, cpus=os.cpu_count(),
                  workers=workers, resume=resumed, seeds=seeds,
                  seeds_within=within)
    return 0


if __name__ == "__main__":
    sys.exit(main())
