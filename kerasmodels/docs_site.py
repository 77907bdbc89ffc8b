"""The documentation site: ``docs/`` built by MkDocs (Material theme, API pages by
mkdocstrings from the docstrings) and served on this machine.

The site is built from a source checkout (``mkdocs.yml`` beside the package); a wheel carries
the package, not its docs. The build is strict: a broken link, anchor or API reference fails
it, as it fails the test suite.

>>> from kerasmodels.docs_site import CONFIG
>>> CONFIG.name
'mkdocs.yml'
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import subprocess
import sys
import threading
import webbrowser
from pathlib import Path

from kerasmodels.dashboard import LOOPBACK  # one loopback default for every server
from kerasmodels.errors import DocsError, check_listen_address
from kerasmodels.logs import get_logger

LOG = get_logger(__name__)

CONFIG = Path(__file__).resolve().parents[1] / "mkdocs.yml"  # a checkout's site configuration
PORT = 8000  # MkDocs' own default


def docs(site_dir: str | Path | None = None, *, config: str | Path = CONFIG, port: int = PORT,
         address: str = LOOPBACK, serve: bool = True, open_browser: bool = True) -> Path:
    """``kerasmodels docs``: check the address, build the site strictly, then serve it.

    Args:
        site_dir: where the HTML goes (default: ``site/`` beside ``mkdocs.yml``).
        config: the site's ``mkdocs.yml``.
        port: the port to serve on.
        address: the interface to serve on.
        serve: serve the site after building it (until Ctrl-C).
        open_browser: open it in the default browser once served.

    Returns:
        The built site's folder (once the server stops, when serving).

    Raises:
        HyperparameterError: a bad port or address (before anything is built).
        DocsError: the site cannot be built or served here.

    Examples:
        >>> docs("/tmp/km-docs-site", serve=False)  # doctest: +SKIP
        PosixPath('/tmp/km-docs-site')
    """
    check_listen_address(port, address)
    site = build_docs(site_dir, config=config)
    if serve:
        serve_docs(site, port=port, address=address, open_browser=open_browser)
    return site


def build_docs(site_dir: str | Path | None = None, *, config: str | Path = CONFIG) -> Path:
    """Build the documentation site strictly.

    Args:
        site_dir: where the HTML goes (default: ``site/`` beside ``mkdocs.yml``).
        config: the site's ``mkdocs.yml`` (default: this checkout's).

    Returns:
        The folder holding the built site (``index.html`` at its top).

    Raises:
        DocsError: no ``mkdocs.yml`` (not a checkout), MkDocs not installed, or the build
            failed (its first warning or error named).

    Examples:
        >>> site = build_docs("/tmp/km-docs-site")  # doctest: +SKIP
        >>> (site / "index.html").is_file()  # doctest: +SKIP
        True
    """
    config = Path(config)
    if not config.is_file():
        raise DocsError(f"no {config.name} at {config.parent}: the documentation site is built "
                        "from a source checkout of kerasmodels (clone it and run `kerasmodels "
                        "docs` there), or read the docs/ folder of the repository")
    if importlib.util.find_spec("mkdocs") is None or \
            importlib.util.find_spec("mkdocstrings") is None:
        raise DocsError("MkDocs is not installed: pip install 'kerasmodels[docs]' (or "
                        "bash scripts/setup.sh in a checkout)")
    site = Path(site_dir) if site_dir is not None else config.parent / "site"
    LOG.info("building the documentation site (mkdocs build --strict) into %s", site)
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(config), "--site-dir", str(site.resolve())],
        cwd=config.parent, capture_output=True, text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stdout + result.stderr).splitlines()
                 if line.startswith(("WARNING", "ERROR")) or "Error" in line]
        raise DocsError(f"the documentation did not build: "
                        f"{lines[0] if lines else 'mkdocs exited ' + str(result.returncode)}")
    return site


def serve_docs(site_dir: str | Path, *, port: int = PORT, address: str = LOOPBACK,
               open_browser: bool = True, ready: threading.Event | None = None) -> None:
    """Serve a built site over HTTP until interrupted (Ctrl-C).

    Args:
        site_dir: a folder ``build_docs`` made.
        port: the port to listen on.
        address: the interface to listen on (this machine only by default).
        open_browser: open the site in the default browser once it answers.
        ready: set once the server listens (for callers in another thread).

    Raises:
        HyperparameterError: a port outside 1..65535 or an address that is no IP address.
        DocsError: the folder holds no built site, or the port is taken.

    Examples:
        >>> serve_docs(build_docs(), port=8000)  # doctest: +SKIP
    """
    site = Path(site_dir)
    check_listen_address(port, address)
    if not (site / "index.html").is_file():
        raise DocsError(f"{site} holds no built site (no index.html): build it first")
    handler = functools.partial(_QuietHandler, directory=str(site))
    try:
        server = http.server.ThreadingHTTPServer((address, port), handler)
    except OSError as exc:
        raise DocsError(f"cannot listen on {address}:{port} ({exc.strerror}): give another "
                        "--port") from None
    url = f"http://{'localhost' if address == LOOPBACK else address}:{port}/"
    print(f"docs on {url} (from {site}); Ctrl+C stops it", flush=True)
    if ready is not None:
        ready.set()
    if open_browser and not os.environ.get("CI"):
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    with server:
        server.serve_forever()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base's name)
        pass
