"""kerasmodels' logging, and the native libraries' stderr lines kept out of the way.

The library logs to the ``kerasmodels`` logger (a library adds no handler: the application
decides); the CLI calls ``configure`` (``-v``: debug, ``-q``: warnings only). TensorFlow's,
LiteRT's and the TFLite converter's C++ code write to file descriptor 2 directly ("Created
TensorFlow Lite XNNPACK delegate for CPU.", "fully_quantize: 0, ..."), past Python's logging and
into progress bars: ``quiet_native`` captures those lines, and shows them when the process
is verbose (``-v`` or ``KERASMODELS_NATIVE_LOGS=1``) or the call fails.

>>> from kerasmodels.logs import quiet_native
>>> with quiet_native():
...     pass
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

LOGGER = logging.getLogger("kerasmodels")
NATIVE_ENV = "KERASMODELS_NATIVE_LOGS"

_lock = threading.Lock()
_depth = 0
_saved_fd: int | None = None
_sink = None


def get_logger(name: str) -> logging.Logger:
    """The logger of a kerasmodels module (``get_logger(__name__)``)."""
    return logging.getLogger(name if name.startswith("kerasmodels") else f"kerasmodels.{name}")


def configure(verbosity: int = 0) -> None:
    """Log to stderr: ``verbosity`` -1 warnings only, 0 progress and results, 1 debug with the
    native libraries' own lines."""
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s" if verbosity < 1 else
                                           "%(levelname)s %(name)s: %(message)s"))
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False
    if verbosity >= 1:
        os.environ[NATIVE_ENV] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


def native_shown() -> bool:
    return os.environ.get(NATIVE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """Capture what native code writes to stderr in the block (process-wide, so nested and
    concurrent blocks share one capture); replayed if the block raises."""
    global _depth, _saved_fd, _sink
    if native_shown():
        yield
        return
    with _lock:
        if _depth == 0:
            try:
                saved = os.dup(2)
            except OSError:  # no stderr to protect
                saved = None
            if saved is not None:
                sys.stderr.flush()
                _sink = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115  (closed on the last exit)
                os.dup2(_sink.fileno(), 2)
            _saved_fd = saved
        _depth += 1
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved_fd is not None:
                os.dup2(_saved_fd, 2)
                os.close(_saved_fd)
                _saved_fd = None
                if _sink is not None:
                    if failed:
                        _sink.seek(0)
                        sys.stderr.write(_sink.read().decode(errors="replace"))
                    _sink.close()
                    _sink = None


__all__ = ["LOGGER", "configure", "get_logger", "quiet_native"]
