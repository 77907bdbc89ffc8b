"""Converters that can kill a process run in a worker process, so a crash cannot reach yours.

The TFLite converter's int8 calibration has segfaulted on recurrent loops
(tensorflow/tensorflow#62281), and tf2onnx and TFLM are native code too. A process that called
them directly died with them: a script, the CLI (exit 139) or the dashboard's server, for every
user at once. The rows of ``kerasmodels.formats`` marked ``isolated`` are converted by a
worker: one Python process per exporting process, started when an export begins (TensorFlow
starts there while the exporting process computes its reference outputs) and reused by the
next conversions. It loads the run's model itself, from the run's files. A crash ends the
worker, not the caller, and becomes a ``kerasmodels.errors.ConverterCrashError`` that
names the format, where it crashed, the model's layers known to crash it and what to do; the
next conversion starts a new worker.

>>> from kerasmodels.exports.isolation import known_triggers
>>> known_triggers("tflite-int8", {"GRU", "Dense"})[0].upstream
'tensorflow/tensorflow#62281'
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.errors import ConverterCrashError, ExportError, KerasModelsError, ParityError
from kerasmodels.layout import MANIFEST
from kerasmodels.logs import NATIVE_ENV, get_logger, native_shown

LOG = get_logger(__name__)
TIMEOUT_SECONDS = 1800  # one conversion; a converter that hangs this long is stopped
ISOLATE_ENV = "KERASMODELS_ISOLATE"  # "0": convert in this process (what the cost bench compares)


@dataclass(frozen=True)
class KnownCrash:
    """A way a converter is known to kill the process, and what the user can do instead."""

    formats: tuple[str, ...]  # the rows it hits
    triggers: tuple[str, ...]  # Keras layer classes, or graph ops of an imported SavedModel
    what: str
    upstream: str
    advice: str


KNOWN_CRASHES: tuple[KnownCrash, ...] = (
    KnownCrash(("tflite-int8", "tflite-int16x8", "tflite-mixed", "tflite-micro"),
               ("GRU", "SimpleRNN", "While"),
               "the TFLite converter's int8 calibration of a recurrent loop (a segfault in "
               "MinMax::Update)", "tensorflow/tensorflow#62281",
               "export tflite-float32, tflite-float16 or onnx instead, use an LSTM cell, or give "
               "the model's Input a fixed sequence length so that kerasmodels unrolls the loop"),
)


def known_triggers(fmt: str, parts: set[str]) -> list[KnownCrash]:
    """The known crashes of ``fmt`` that a model made of ``parts`` (layer classes or graph
    ops) can trigger."""
    return [crash for crash in KNOWN_CRASHES
            if fmt in crash.formats and parts & set(crash.triggers)]


def model_parts(model) -> set[str]:
    """The layer classes of a Keras model (nested models and wrappers included), or the op
    types of an imported SavedModel's graph."""
    from kerasmodels.exports.tflite import nested_layers

    parts = set()
    for layer in nested_layers(model) if hasattr(model, "layers") else ():
        parts.add(type(layer).__name__)
        for inner in ("layer", "forward_layer", "backward_layer"):  # wrappers
            if hasattr(layer, inner):
                parts.add(type(getattr(layer, inner)).__name__)
    function = getattr(model, "concrete_function", None)  # an imported SavedModel's
    if function is not None:
        from kerasmodels.imports.saved_model import graph_ops

        parts |= graph_ops(function)
    return parts


def isolated() -> bool:
    return os.environ.get(ISOLATE_ENV, "1") != "0"


class Worker:
    """One worker process and its pipes; requests are JSON lines, so are replies."""

    def __init__(self):
        self.scratch = Path(tempfile.mkdtemp(prefix="kerasmodels-worker-"))
        self.log = self.scratch / "start.log"
        env = {**os.environ, NATIVE_ENV: "1",  # native lines go to the request's log
               "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "1")}
        # it ends at the end of its input: when this process closes the pipe or dies, however
        # it dies (not PR_SET_PDEATHSIG, which fires when the starting *thread* ends, and the
        # dashboard starts it from a page's thread)
        self.process = subprocess.Popen([sys.executable, "-m", "kerasmodels.exports.isolation",
                                         str(self.log)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        env=env, text=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The worker's reply, or None when it died (or was stopped after ``timeout``)."""
        from kerasmodels.runs import json_default

        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(message, default=json_default) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not ready:
            self.close(now=True)
            raise ExportError(f"{message['format']} took more than {timeout:.0f} s in its "
                              "converter and was stopped: export another format, or a smaller "
                              "model")
        return json.loads(line) if line else None

    def close(self, now: bool = False) -> None:
        from kerasmodels.processes import stop

        if self.alive():
            with contextlib.suppress(OSError, ValueError):
                if self.process.stdin is not None:
                    self.process.stdin.close()  # the worker ends at end of input
            try:
                self.process.wait(timeout=0 if now else 5)
            except subprocess.TimeoutExpired:
                stop(self.process, grace=2)
        else:
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
        import shutil

        shutil.rmtree(self.scratch, ignore_errors=True)


_worker: Worker | None = None
_turn = threading.Lock()  # one conversion at a time per process (the dashboard has threads)


def start() -> None:
    """Start the worker if none is running (returns at once: it starts in the background)."""
    global _worker
    if not isolated():
        return
    with _turn:
        if _worker is None or not _worker.alive():
            if _worker is not None:
                _worker.close()
            _worker = Worker()


def shutdown() -> None:
    """Stop the worker (at exit, or to free its memory)."""
    global _worker
    with _turn:
        if _worker is not None:
            _worker.close()
            _worker = None


atexit.register(shutdown)


def convert(fmt, run, target: Path, *, data, info: dict[str, Any],
            options: dict[str, Any], parts: set[str]) -> dict[str, Any]:
    """Write ``target`` with ``fmt``'s converter on ``run``'s saved model, in the worker.

    ``data``: the run's dataset (its calibration sample, validation and test splits are
    handed over);
    ``parts``: the model's layer classes or ops (``model_parts``), named in a crash's
    error. Returns what the converter returns; raises the converter's ExportError (a format
    that cannot hold the model), a ConverterCrashError, or an ExportError for any other
    failure of the converter.
    """
    global _worker
    start()
    with _turn:
        assert _worker is not None
        worker = _worker
        with tempfile.TemporaryDirectory(prefix="convert-", dir=worker.scratch) as scratch:
            arrays = Path(scratch) / "data.npz"
            from kerasmodels.exports.tflite import CALIBRATION_SAMPLES

            x_train, y_train = data.train
            np.savez(arrays, x_train=x_train[:CALIBRATION_SAMPLES],
                     y_train=y_train[:CALIBRATION_SAMPLES], x_val=data.val[0],
                     y_val=data.val[1], x_test=data.test[0], y_test=data.test[1])
            log = Path(scratch) / "convert.log"
            message = {"run": str(run.path), "format": fmt.to_json(), "target": str(target),
                       "info": info, "options": options, "arrays": str(arrays),
                       "log": str(log),
                       "dataset": {"name": data.name, "task": data.task,
                                   "num_classes": data.num_classes, "labels": data.labels,
                                   "preprocessing": data.preprocessing,
                                   "vocab_size": data.vocab_size}}
            started = time.perf_counter()
            reply = worker.request(message, TIMEOUT_SECONDS)
            output = log.read_text(errors="replace") if log.exists() else ""
            if reply is None:
                worker.close()
                _worker = None
                code = worker.process.returncode
                raise crash_error(fmt.name, code, output or _read(worker.log), parts)
    LOG.debug("%s converted in the worker in %.2f s", fmt.name, time.perf_counter() - started)
    if native_shown() and output:
        sys.stderr.write(output)
    if reply["ok"]:
        return reply["extras"]
    if reply["kind"] == "ParityError":
        raise ParityError(reply["message"], reply["parity"])
    if reply["kind"] == "ExportError":
        raise ExportError(reply["message"])
    if reply["kind"] == "KerasModelsError":
        raise ConverterCrashError(f"{fmt.name}: {reply['message']}")
    if reply.get("errno") is not None:  # the machine's (a full disk), not the converter's
        raise OSError(reply["errno"], reply["message"])
    LOG.debug("%s's converter failed in the worker:\n%s", fmt.name, reply.get("traceback", ""))
    raise failure(fmt.name, reply["kind"], reply["message"])


def failure(fmt: str, kind: str, message: str) -> ConverterCrashError:
    """The error a converter's unexpected exception becomes (a bug, ours or the converter's)."""
    first = message.strip().splitlines()[0][:300] if message.strip() else ""
    return ConverterCrashError(f"{fmt}'s converter failed ({kind}{': ' + first if first else ''})"
                               ": this is a bug; report it with the run (kerasmodels -v export "
                               "shows the converter's log)")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def crash_error(fmt: str, code: int | None, output: str, parts: set[str]) -> ConverterCrashError:
    """The error a converter's crash becomes: the format, the signal, where, which layers of
    the model are known to trigger it, and what to do."""
    if code is not None and code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    where = crash_site(output)
    known = known_triggers(fmt, parts)
    if known:
        named = sorted(parts & {t for crash in known for t in crash.triggers})
        cause = (f"this model's {', '.join(named)} is known to crash {known[0].what} "
                 f"({known[0].upstream}): {known[0].advice}")
    else:
        cause = ("no layer of this model is known to crash it: export another format, and "
                 "report it with the run (kerasmodels -v export shows the converter's log)")
    error = ConverterCrashError(f"{fmt}: the converter {how}{where}, in a worker process (your "
                                f"process is unharmed); {cause}")
    error.known = known[0] if known else None  # type: ignore[attr-defined]
    return error


def known_to_crash(fmt: str, crashed: list[ConverterCrashError]) -> ConverterCrashError | None:
    """The error ``fmt`` gets without being tried when a crash earlier in the same export is a
    known one that hits ``fmt`` too (the same step of the converter on the same model: the
    int8 calibration of a recurrent loop kills int8, int16x8, mixed and micro alike), or None.
    Each crash costs a worker restart (TensorFlow starts again): seconds to minutes."""
    for earlier in crashed:
        known = getattr(earlier, "known", None)
        if known is not None and fmt in known.formats:
            first = str(earlier).split(":", 1)[0]
            return ConverterCrashError(f"{fmt}: not tried: {first}'s converter crashed on the "
                                       f"same step in this export ({known.what}, "
                                       f"{known.upstream}): {known.advice}")
    return None


def crash_site(output: str) -> str:
    """`` in <file>:<function>`` of the innermost Python frame of a faulthandler report."""
    frames = [line.strip() for line in output.splitlines()
              if line.strip().startswith('File "') and " in " in line]
    if not frames:
        return ""
    first = frames[0]  # faulthandler lists the most recent call first
    path = first.split('"')[1]
    short = "/".join(Path(path).parts[-3:])
    return f" in {short}:{first.rsplit(' in ', 1)[1]}"


# -- the worker's side -------------------------------------------------------------------------

@contextlib.contextmanager
def _output_to(path: str):
    """File descriptors 1 and 2 (native code and faulthandler write there) into ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


class _Models:
    """The last run's model, kept while its files are unchanged (a run exported to several
    formats is loaded once)."""

    def __init__(self):
        self.key: tuple | None = None
        self.model = None

    def get(self, path: str):
        from kerasmodels.runs import load_run

        run = load_run(path)
        files = [run.path / MANIFEST, run.model_path]
        key = (path, *(f.stat().st_mtime_ns for f in files if f.exists()))
        if key != self.key:
            self.model, self.key = None, None
            self.model, self.key = run.model, key
        return self.model


def _dataset(message: dict[str, Any]):
    """The run's dataset as the caller handed it over: its calibration sample and test split."""
    from kerasmodels.data.dataset import Dataset

    with np.load(message["arrays"], allow_pickle=False) as arrays:
        train, val, test = ((arrays[f"x_{split}"], arrays[f"y_{split}"])
                            for split in ("train", "val", "test"))
    described = dict(message["dataset"])
    return Dataset(described.pop("name"), train, val, test, **described)


def serve(start_log: str) -> None:
    """The worker's loop: a request per line on stdin, a reply per line on the original
    stdout; everything else written to fds 1 and 2 lands in the request's log."""
    import faulthandler
    import traceback

    replies = os.fdopen(os.dup(1), "w")
    with _output_to(start_log):
        faulthandler.enable(file=sys.stderr, all_threads=False)
        from kerasmodels.formats import ExportFormat, resolve
        from kerasmodels.runs import json_default

        models = _Models()
    for line in sys.stdin:
        message = json.loads(line)
        with _output_to(message["log"]):
            try:
                row = message["format"]  # the caller's row, as the caller has it
                fmt = ExportFormat(**{**row, "options": tuple(row["options"])})
                model = models.get(message["run"])
                extras = resolve(fmt.converter)(model, Path(message["target"]), fmt=fmt,
                                                data=_dataset(message), info=message["info"],
                                                **message["options"])
                reply = {"ok": True, "extras": extras}
            except ParityError as exc:  # a converter that measured a miss (tflite-mixed)
                reply = {"ok": False, "kind": "ParityError", "message": str(exc),
                         "parity": exc.parity}
            except ExportError as exc:
                reply = {"ok": False, "kind": "ExportError", "message": str(exc)}
            except KerasModelsError as exc:  # the run itself (a file, a class): named as is
                reply = {"ok": False, "kind": "KerasModelsError", "message": str(exc)}
            except OSError as exc:
                reply = {"ok": False, "kind": type(exc).__name__, "errno": exc.errno,
                         "message": exc.strerror or str(exc)}
            except Exception as exc:  # noqa: BLE001  (reported to the caller, which names it)
                reply = {"ok": False, "kind": type(exc).__name__,
                         "message": str(exc).strip().splitlines()[0][:300] if str(exc).strip()
                         else "", "traceback": traceback.format_exc()}
        replies.write(json.dumps(reply, default=json_default) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve(sys.argv[1])
