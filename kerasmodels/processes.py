"""Child processes that stop with their parent.

``kerasmodels dashboard`` (and ``demo``, and ``launch``'s workers) start other processes.
``run_owned`` makes the command own its child: SIGTERM, SIGINT and SIGHUP are forwarded to
it, a child that has not stopped after ``grace`` seconds is killed, the child dies with the
parent even if the parent is killed with SIGKILL (Linux ``PR_SET_PDEATHSIG``), and the parent
exits with the child's exit code.

>>> run_owned([sys.executable, "-c", "print('hi')"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child, before exec: receive SIGTERM when the parent dies (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_owned(command: list[str], **popen) -> subprocess.Popen:
    """``subprocess.Popen`` whose child dies with this process."""
    if sys.platform.startswith("linux"):
        popen.setdefault("preexec_fn", die_with_parent)
    return subprocess.Popen(command, **popen)


def stop(process: subprocess.Popen, grace: float = 5.0,
         first: int = signal.SIGTERM) -> int:
    """Send ``first``, wait ``grace`` seconds, then SIGKILL; the exit code."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(first)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
    return process.returncode


@contextlib.contextmanager
def caught_signals():
    """While inside, SIGTERM, SIGINT and SIGHUP are recorded (in the yielded list) instead of
    ending the process; the previous handlers come back after. Only the main thread can set
    handlers: elsewhere nothing is caught."""
    received: list[int] = []
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, lambda signum, _frame: received.append(signum))
                    for sig in FORWARDED}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def insistent_interrupt(every: float = 1.0):
    """While inside (in the main thread), Ctrl-C ends the work even when its KeyboardInterrupt
    lands where Python only prints it and goes on (a weakref callback, a ``__del__``:
    "Exception ignored in ..."): it is raised again every ``every`` seconds until it reaches
    the code that stops. Yields a dict whose ``stopped`` the caller sets once it has."""
    import _thread

    state = {"stopped": False, "interrupted": False}
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def again() -> None:
        while not state["stopped"]:
            time.sleep(every)
            if not state["stopped"]:
                _thread.interrupt_main()

    def handler(signum, frame):
        if not state["interrupted"] and not state["stopped"]:
            state["interrupted"] = True
            threading.Thread(target=again, daemon=True).start()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        state["stopped"] = True
        signal.signal(signal.SIGINT, previous)


def run_owned(command: list[str], *, grace: float = 5.0,
              on_started: Callable[[subprocess.Popen], None] | None = None, **popen) -> int:
    """Run ``command`` as an owned child until it ends or this process is signalled.

    Returns the child's exit code (128 + N for a child ended by signal N, as a shell does).
    """
    process = start_owned(command, **popen)
    with caught_signals() as received:
        try:
            if on_started is not None:
                on_started(process)
            while process.poll() is None and not received:
                time.sleep(0.1)
            if received:
                stop(process, grace, first=signal.SIGTERM if received[0] != signal.SIGINT
                     else signal.SIGINT)
        except BaseException:
            stop(process, grace)
            raise
    code = process.returncode
    if received:
        return 128 + received[0]
    return 128 - code if code < 0 else code


__all__ = ["caught_signals", "insistent_interrupt", "run_owned", "start_owned", "stop"]
