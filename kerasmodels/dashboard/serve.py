"""Serve the dashboard: ``streamlit run`` on the packaged app, every server option explicit.

``kerasmodels dashboard`` and ``kerasmodels demo`` call ``serve_dashboard``; the command
line it runs is ``dashboard_command``'s.

>>> from kerasmodels.dashboard.serve import dashboard_command
>>> command, env = dashboard_command("saved_models", 8501)
>>> command[2:4], command[command.index("--server.address") + 1]
(['streamlit', 'run'], '127.0.0.1')
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
from pathlib import Path

from kerasmodels.dashboard import APP, LOOPBACK, PORT, RUNS_DIR_ENV

UPLOAD_LIMIT_MB = 50  # the largest file any dashboard page accepts


def dashboard_command(runs_dir: str | Path, port: int = PORT,
                      address: str = LOOPBACK) -> tuple[list[str], dict[str, str]]:
    """The ``streamlit run`` command line and environment that serve the dashboard.

    Every server option is explicit: headless (no first-run e-mail prompt, which exits a
    process without a terminal), no usage statistics, no file watcher, uploads capped at what
    the pages accept, and no tracebacks in the browser.

    Args:
        runs_dir: The runs folder the dashboard shows.
        port: The port it listens on.
        address: The address it listens on (this machine alone by default).

    Returns:
        The command line and the environment to run it with.

    Raises:
        HyperparameterError: A port outside 1..65535 or an address that is not an IP address.
    """
    from kerasmodels.errors import check_listen_address

    check_listen_address(port, address)
    command = [sys.executable, "-m", "streamlit", "run", str(APP),
               "--server.address", address, "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--server.runOnSave", "false",
               "--server.maxUploadSize", str(UPLOAD_LIMIT_MB),
               "--server.maxMessageSize", "200",
               # no full gc.collect(2) after every script run: it walks every loaded model
               # holding the GIL (the app spaces its full collections: common.collect_garbage)
               "--runner.postScriptGC", "false",
               "--client.showErrorDetails", "false", "--client.toolbarMode", "minimal"]
    env = {**os.environ, RUNS_DIR_ENV: str(Path(runs_dir).resolve())}
    return command, env


def serve_dashboard(runs_dir: str | Path, *, port: int = PORT, address: str = LOOPBACK,
                    open_browser: bool = True) -> int:
    """Serve the dashboard until Ctrl+C or SIGTERM (the server is this process's child and
    stops with it); open a browser once it answers, unless told not to or under CI.

    Args:
        runs_dir: The runs folder the dashboard shows.
        port: The port it listens on.
        address: The address it listens on; any other than loopback is warned about (the
            dashboard has no login).
        open_browser: Open the default browser on it once it answers.

    Returns:
        The server's exit code.

    Raises:
        HyperparameterError: A port outside 1..65535 or an address that is not an IP address.
    """
    from kerasmodels.processes import run_owned

    command, env = dashboard_command(runs_dir, port, address)
    loopback = ipaddress.ip_address(address).is_loopback
    url = f"http://{'localhost' if loopback else address}:{port}"
    if not loopback:
        print(f"warning: the dashboard listens on {address}, so anyone who can reach this "
              "machine can use it: it has no login. Use --address 127.0.0.1 to keep it local.",
              file=sys.stderr)
    print(f"dashboard on {url} (runs: {runs_dir}); Ctrl+C or SIGTERM stops it")
    opener = (lambda _process: _open_when_up(url)) if open_browser and not os.environ.get(
        "CI") else None
    return run_owned(command, env=env, on_started=opener)


def _open_when_up(url: str) -> None:
    """Open the browser once the server answers (in the background: the caller keeps
    waiting on the server)."""
    import time
    import urllib.request
    import webbrowser

    def wait_then_open():
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                webbrowser.open(url)
                return
            except OSError:
                time.sleep(0.5)

    threading.Thread(target=wait_then_open, daemon=True).start()


__all__ = ["UPLOAD_LIMIT_MB", "dashboard_command", "serve_dashboard"]
