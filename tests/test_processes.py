"""Stopping kerasmodels stops everything it started: the dashboard's Streamlit server and
launch's workers, busy or not, with the port released; the dashboard starts with no prompt,
on loopback only unless asked."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_browser import CHROMIUM, free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group (zombies excluded)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def port_is_free(port: int) -> bool:
    """Nothing listens on it and a new server can bind it (as servers do, SO_REUSEADDR)."""
    if listening_addresses(port):
        return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                found.add(address)
    return found


def wait_gone(pgid: int, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and group_members(pgid):
        time.sleep(0.2)
    return group_members(pgid)


def start_cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kerasmodels", *args], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env=env or os.environ.copy())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_busy_dashboard_and_frees_its_port(sig, dashboard_runs, tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    # a machine where Streamlit never ran, no terminal, no --no-browser: no e-mail prompt
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(HOME=str(tmp_path), BROWSER="true")
    process = start_cli("dashboard", "--runs-dir", str(dashboard_runs), "--port", str(port),
                        env=env)
    url = f"http://localhost:{port}"
    try:
        wait_healthy(url, process)
        assert listening_addresses(port) == {"0100007F"}, "only 127.0.0.1 by default"
        assert len(group_members(process.pid)) >= 2  # the CLI and its Streamlit server
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"{url}/train")
            page.get_by_role("heading", name="Train", exact=True).wait_for(timeout=120_000)
            epochs = page.get_by_role("spinbutton", name="Epochs")
            epochs.fill("500")
            epochs.press("Enter")
            page.get_by_role("button", name="Train", exact=True).click()
            page.wait_for_timeout(3000)  # the page is training now
            os.kill(process.pid, sig)
            left = wait_gone(process.pid, 10)
            browser.close()
        assert not left, f"still running 10 s after {sig.name}: {left}"
        assert process.wait(timeout=5) == 128 + sig
        assert port_is_free(port)
    finally:
        for pid in group_members(process.pid):
            os.kill(pid, signal.SIGKILL)


def test_address_opens_it_with_a_warning(dashboard_runs):
    port = free_port()
    process = start_cli("dashboard", "--runs-dir", str(dashboard_runs), "--port", str(port),
                        "--address", "0.0.0.0", "--no-browser")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        assert listening_addresses(port) & {"00000000", "00000000000000000000000000000000"}
    finally:
        os.kill(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert "warning: the dashboard listens on 0.0.0.0" in output and "no login" in output
    assert not wait_gone(process.pid, 10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_launch_and_its_workers(sig):
    process = start_cli("launch", "--workers", "2", "--", "train", "--arch", "mlp",
                        "--epochs", "200", "--quiet", "--out-dir", "/tmp/kerasmodels-launch")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(group_members(process.pid)) < 3:
            time.sleep(0.2)
        assert len(group_members(process.pid)) >= 3, "the launcher and its two workers"
        time.sleep(3)
        os.kill(process.pid, sig)
        left = wait_gone(process.pid, 10)
        assert not left, f"still running 10 s after {sig.name}: {left}"
        assert process.wait(timeout=5) == 128 + sig
    finally:
        for pid in group_members(process.pid):
            os.kill(pid, signal.SIGKILL)


def test_the_owner_exits_with_its_childs_code():
    from kerasmodels.processes import run_owned

    assert run_owned([sys.executable, "-c", "import sys; sys.exit(3)"]) == 3
    assert run_owned([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"]) \
        == 128 + signal.SIGKILL
