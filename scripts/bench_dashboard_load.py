"""The dashboard under concurrent use: N Chromium pages with no think time, then recovery.

Starts ``kerasmodels dashboard`` (loopback only) on a runs directory with an exported digits
CNN family, then for ``--seconds`` keeps N pages busy (half on Models, half on the Playground,
each reloading as soon as its page has rendered), while a separate client polls the health
endpoint. After the pages close it keeps polling for ``--after`` seconds. One page opens the Playground
first (not timed in the figures) so the family's variants are loaded before the load starts. Everything stays on
127.0.0.1, with a fixed number of pages and a fixed duration.

Prints and writes bench-results/dashboard_load.json: p50/p90/max health latency during and
after the load, page loads completed, errors, the server's resident memory before and after,
and what a stuck server shows: its CPU use in the window after the load, sockets left in
CLOSE_WAIT, and how long SIGTERM takes to stop it. Exits 1 unless the server recovered (no
failed health check after the load, p90 under 1 s), left no socket in CLOSE_WAIT and stopped
within 10 s.

    .venv/bin/python scripts/bench_dashboard_load.py [--pages 10] [--seconds 60] [--after 30]
    .venv/bin/python scripts/bench_dashboard_load.py --quick     # CI: checks the script works
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_dashboard  # noqa: E402  (scripts/: the family, --family)

from kerasmodels.report import write_results  # noqa: E402
from tests.test_browser import CHROMIUM, free_port, wait_healthy  # noqa: E402

HEALTH_TIMEOUT_S = 15.0


def build_family(out: Path, quick: bool, sweep: bool) -> str:
    """The digits CNN with its distilled student (three formats each: bench_dashboard's
    family), or with every child of the sweep (each exported to its formats: about 25
    variants in the Playground)."""
    if not sweep:
        return bench_dashboard.build_family(out, quick=quick)
    import kerasmodels as km

    run = km.train("cnn", "digits", epochs=2 if quick else None, out_dir=out, verbose=0)
    km.sweep(run, accuracy_budget=0.01, calls=5, progress=False)
    return run.id


def resident_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, MB."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines()
                          if line.startswith("VmRSS:"))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        pending += [int(c) for c in children]
    return round(total / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and its descendants so far, seconds."""
    import os

    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, IndexError, ValueError):
            continue
        pending += [int(c) for c in children]
    return total


def close_wait_sockets(port: int) -> int:
    """Sockets on the server's ``port`` that the clients closed and the server did not
    (TCP state CLOSE_WAIT, read from /proc/net/tcp and tcp6)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if int(local.rsplit(":", 1)[1], 16) == port and state == "08":
                count += 1
    return count


def stop_seconds(server: subprocess.Popen) -> float:
    """SIGTERM the server and time how long it takes to exit (killed after 30 s)."""
    started = time.perf_counter()
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    return round(time.perf_counter() - started, 2)


class HealthPoller(threading.Thread):
    """GET /_stcore/health every ``period`` s; latencies (s) tagged with the phase."""

    def __init__(self, url: str, period: float = 0.25):
        super().__init__(daemon=True)
        self.url, self.period = f"{url}/_stcore/health", period
        self.phase, self.samples, self.failures = "before", [], []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=HEALTH_TIMEOUT_S) as r:
                    r.read()
                self.samples.append((self.phase, time.perf_counter() - start))
            except OSError as exc:
                self.samples.append((self.phase, time.perf_counter() - start))
                self.failures.append((self.phase, type(exc).__name__))
            self.stopped.wait(max(0.0, self.period - (time.perf_counter() - start)))

    def summary(self, phase: str) -> dict:
        values = sorted(s for p, s in self.samples if p == phase)
        if not values:
            return {"samples": 0}
        return {"samples": len(values), "p50_ms": round(statistics.median(values) * 1000, 1),
                "p90_ms": round(values[int(0.9 * (len(values) - 1))] * 1000, 1),
                "max_ms": round(values[-1] * 1000, 1),
                "failures": sum(1 for p, _ in self.failures if p == phase)}


async def warm_up(url: str, run_id: str) -> float:
    """Open the Playground once so the family's variants are loaded (and cached) before the
    clock starts; returns the seconds that took."""
    from playwright.async_api import async_playwright

    started = time.perf_counter()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page()
        await page.goto(f"{url}/playground?run={run_id}", timeout=300_000)
        await page.get_by_text("variants", exact=False).first.wait_for(timeout=300_000)
        await browser.close()
    return round(time.perf_counter() - started, 1)


async def load(url: str, run_id: str, pages: int, seconds: float, churn: bool,
               interact: bool = False) -> dict:
    from playwright.async_api import async_playwright

    counts, errors = {"models": 0, "playground": 0}, []
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"])
        deadline = time.monotonic() + seconds

        async def client(index: int):
            kind = "models" if index % 2 == 0 else "playground"
            context = await browser.new_context()
            page = await context.new_page()
            target = f"{url}/" if kind == "models" else f"{url}/playground?run={run_id}"
            wait_for = "Models" if kind == "models" else "Playground"
            if interact and kind == "playground":  # one page, clicked as fast as it answers
                await page.goto(target, timeout=120_000)
                await page.get_by_text("Test example", exact=True).click(timeout=120_000)
                sentence = page.get_by_text("Prediction for example #").first
                await sentence.wait_for(timeout=120_000)
            while time.monotonic() < deadline and interact and kind == "playground":
                try:
                    before = await sentence.inner_text()
                    await page.get_by_role("button", name="Random test example").click()
                    await page.wait_for_function(
                        "before => [...document.querySelectorAll('p')].some(p => "
                        "p.innerText.startsWith('Prediction for example #') && "
                        "p.innerText !== before)", arg=before, timeout=60_000)
                    counts[kind] += 1
                except Exception as exc:  # noqa: BLE001  (a failed click is a figure)
                    try:
                        shown = await page.locator("body").inner_text(timeout=10_000)
                    except Exception as unreadable:  # noqa: BLE001
                        shown = f"(unreadable: {type(unreadable).__name__})"
                    errors.append(f"{kind} click: {type(exc).__name__}: {str(exc)[:120]}; the "
                                  f"page showed: {' '.join(shown.split())[:300]}")
            while time.monotonic() < deadline:
                try:
                    if churn:  # no think time at all: the next load starts at the response
                        await page.goto(target, timeout=60_000, wait_until="commit")
                        await page.wait_for_timeout(300)
                        counts[kind] += 1
                        continue
                    await page.goto(target, timeout=60_000)
                    await page.get_by_role("heading", name=wait_for, exact=True).wait_for(
                        timeout=60_000)
                    if kind == "playground":
                        await page.get_by_text("variants", exact=False).first.wait_for(
                            timeout=60_000)
                    counts[kind] += 1
                except Exception as exc:  # noqa: BLE001  (a failed load is a figure)
                    errors.append(f"{kind}: {type(exc).__name__}: {str(exc)[:120]}")
            await context.close()

        await asyncio.gather(*(client(i) for i in range(pages)))
        await browser.close()
    return {"page_loads": counts, "errors": len(errors), "error_examples": errors[:5]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--after", type=float, default=30.0)
    parser.add_argument("--sweep", action="store_true",
                        help="serve a family made by the sweep (every recipe, ~25 variants) "
                             "instead of the CNN and its distilled student")
    parser.add_argument("--churn", action="store_true",
                        help="reload as soon as the server answers, not after the page rendered "
                             "(sessions opened and dropped continuously)")
    parser.add_argument("--interact", action="store_true",
                        help="Playground pages click 'Random test example' as fast as it "
                             "answers instead of reloading")
    bench_dashboard.family_option(parser)
    parser.add_argument("--out", type=Path, help="JSON file to write (default: bench-results/)")
    parser.add_argument("--quick", action="store_true",
                        help="2 pages for 6 s, 4 s after, 1-epoch models (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.pages, args.seconds, args.after = 2, 6.0, 4.0
    with tempfile.TemporaryDirectory() as scratch:
        out = str(args.family.parent if args.family else scratch)
        run_id = args.family.name if args.family else build_family(Path(out), args.quick,
                                                                   args.sweep)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "kerasmodels", "dashboard", "--runs-dir",
                                   out, "--port", str(port), "--no-browser"], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        poller = HealthPoller(url)
        try:
            wait_healthy(url, server)
            urllib.request.urlopen(url, timeout=30).read()
            memory_before = resident_mb(server.pid)
            warm_up_s = asyncio.run(warm_up(url, run_id))
            poller.start()
            time.sleep(2)
            poller.phase = "during"
            outcome = asyncio.run(load(url, run_id, args.pages, args.seconds, args.churn,
                                      args.interact))
            poller.phase = "after"
            cpu_before_after = cpu_seconds(server.pid)
            time.sleep(args.after)
            cpu_after = (cpu_seconds(server.pid) - cpu_before_after) / args.after
            memory_after = resident_mb(server.pid)
            close_wait = close_wait_sockets(port)
        finally:
            poller.stopped.set()
            stop_s = stop_seconds(server)
    result = {"pages": args.pages, "seconds": args.seconds, "after_seconds": args.after,
              "warm_up_s": warm_up_s, "health_before": poller.summary("before"), "health_during": poller.summary("during"),
              "health_after": poller.summary("after"), **outcome,
              "server_rss_mb_before": memory_before, "server_rss_mb_after": memory_after,
              "server_cpu_after": round(cpu_after, 3), "close_wait_after": close_wait,
              "sigterm_stop_s": stop_s,
              "churn": args.churn, "interact": args.interact, "sweep_family": args.sweep,
              "quick": args.quick}
    for phase in ("before", "during", "after"):
        print(f"health {phase:6s}: {result[f'health_{phase}']}")
    print(f"page loads {outcome['page_loads']}, errors {outcome['errors']}; server memory "
          f"{memory_before} MB before, {memory_after} MB after")
    print(f"after the load: server CPU {100 * cpu_after:.1f}% of a core, {close_wait} sockets "
          f"in CLOSE_WAIT; SIGTERM stopped it in {stop_s} s")
    for example in outcome["error_examples"]:
        print(f"  error: {example}")
    name = "dashboard_load" + ("_sweep" if args.sweep else "") + \
        ("_churn" if args.churn else "") + ("_interact" if args.interact else "") + \
        ("_quick" if args.quick else "") + ".json"
    write_results(args.out or ROOT / "bench-results" / name, **result)
    after = result["health_after"]
    recovered = after.get("samples") and not after["failures"] and after["p90_ms"] < 1000
    return 0 if recovered and close_wait == 0 and stop_s < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
