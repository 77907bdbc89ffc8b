"""How fast the command answers when it has nothing to compute: ``kerasmodels archs``,
``datasets``, ``runs`` and ``--help``, each a fresh process (as a user or a script starts it),
timed as wall clock from start to exit, median of the repeats, and whether TensorFlow was
imported (it must not be: listing a registry is not worth 8 s and 700 MB). Also peak memory
(the process's VmHWM). Writes bench-results/cli.json.

    .venv/bin/python scripts/bench_cli.py           # ~20 s
    .venv/bin/python scripts/bench_cli.py --quick   # CI: checks the script works
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

COMMANDS = (["archs"], ["datasets"], ["runs", "--runs-dir", "{empty}"], ["--help"])
TARGET_S = 1.0  # issue 17: `kerasmodels archs` under a second
# the command in a fresh interpreter, reporting whether TensorFlow got imported and the peak
# resident memory; stdout is the command's, the report goes to stderr's last line
PROBE = """
import json, sys
from kerasmodels.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"code": code, "tensorflow": "tensorflow" in sys.modules, "peak_rss": peak}),
      file=sys.stderr)
"""


def time_command(args: list[str], repeats: int) -> dict:
    seconds, report = [], {}
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=120)
        seconds.append(time.perf_counter() - start)
        report = json.loads(done.stderr.strip().splitlines()[-1])
        assert report["code"] in (0, None), done.stderr
    return {"command": "kerasmodels " + " ".join(args), "median_s": round(
        statistics.median(seconds), 3), "min_s": round(min(seconds), 3),
        "imports_tensorflow": report["tensorflow"],
        "peak_rss_mb": round(report["peak_rss"] / 1e6, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_options(parser, "bench-results/cli.json", "two repeats instead of nine")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else 9
    empty = ROOT / "saved_models" / ".bench-cli-empty"
    rows = [time_command([a.replace("{empty}", str(empty)) for a in command], repeats)
            for command in COMMANDS]
    for row in rows:
        row["command"] = row["command"].replace(str(empty), "EMPTY")
    print(format_table(rows))
    archs = rows[0]
    write_results(args.out, quick=args.quick, repeats=repeats, target_s=TARGET_S, rows=rows,
                  archs_under_target=archs["median_s"] < TARGET_S and
                  not archs["imports_tensorflow"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
