"""Training on several devices or hosts with tf.distribute, and a local multi-worker launcher.

``km.train(..., distribution="mirrored")`` mirrors the model over the local devices (GPUs, or
CPUs split into ``KERASMODELS_CPU_DEVICES`` logical devices); ``distribution="multiworker"``
uses MultiWorkerMirroredStrategy with the cluster from ``TF_CONFIG``, the standard TensorFlow
cluster spec, so the same command runs on N hosts. ``kerasmodels launch --workers N -- train
...`` (``launch``) starts N workers on this machine over loopback to try it.

The batch size given to ``train`` is per replica; the global batch is that times the replicas.
The training data is sharded explicitly by batch (``AutoShardPolicy.DATA``): every worker holds
the arrays and takes its share of each global batch. Only the chief writes the run.

>>> tf_config = {"cluster": {"worker": ["127.0.0.1:12345", "127.0.0.1:12346"]},
...              "task": {"type": "worker", "index": 0}}
>>> parse_tf_config(json.dumps(tf_config))["task"]
{'type': 'worker', 'index': 0}
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from kerasmodels.errors import DistributionError, UnknownNameError

DISTRIBUTIONS = ("mirrored", "multiworker")
COLLECTIVE_TIMEOUT_ENV = "KERASMODELS_COLLECTIVE_TIMEOUT"
ADDRESS = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def parse_tf_config(text: str | None) -> dict[str, Any]:
    """Check a ``TF_CONFIG`` value and return it parsed, or say exactly what is wrong."""
    example = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}')
    if not text:
        raise DistributionError(f"distribution='multiworker' needs TF_CONFIG, e.g. {example} "
                                "(or use: kerasmodels launch --workers 2 -- train ...)")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DistributionError(f"TF_CONFIG is not valid JSON ({exc.msg} at character "
                                f"{exc.pos}); expected e.g. {example}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise DistributionError(f"TF_CONFIG needs a 'cluster' object; expected e.g. {example}")
    cluster, task = config["cluster"], config.get("task")
    roles = {role: hosts for role, hosts in cluster.items() if role in ("chief", "worker")}
    if not roles or not any(roles.values()):
        raise DistributionError("TF_CONFIG's cluster lists no 'worker' (or 'chief') addresses")
    for role, hosts in cluster.items():
        if not isinstance(hosts, list) or not all(isinstance(h, str) and ADDRESS.match(h)
                                                  for h in hosts):
            raise DistributionError(f"TF_CONFIG cluster[{role!r}] must be a list of 'host:port' "
                                    f"strings, got {hosts!r}")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise DistributionError("TF_CONFIG needs a 'task' with 'type' and 'index', e.g. "
                                '{"type": "worker", "index": 0}')
    if task["type"] not in cluster:
        raise DistributionError(f"TF_CONFIG task type {task['type']!r} is not in the cluster "
                                f"({', '.join(cluster)})")
    index = task["index"]
    if isinstance(index, bool) or not isinstance(index, int) or \
            not 0 <= index < len(cluster[task["type"]]):
        raise DistributionError(f"TF_CONFIG task index {index!r} is out of range: the cluster has "
                                f"{len(cluster[task['type']])} {task['type']} address(es)")
    return config


@dataclass
class Distribution:
    """The strategy and where this process stands in it."""

    kind: str
    strategy: Any
    workers: int = 1
    task_index: int = 0
    is_chief: bool = True

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    def describe(self, per_replica_batch: int) -> dict[str, Any]:
        return {"kind": self.kind, "workers": self.workers, "replicas": self.replicas,
                "per_replica_batch": per_replica_batch,
                "global_batch": per_replica_batch * self.replicas,
                "sharding": "data (by batch)"}


def make_distribution(kind: str | None) -> Distribution | None:
    """The strategy for ``kind`` (None: no strategy). Call it before TensorFlow runs anything
    else: MultiWorkerMirroredStrategy must be created at program start."""
    if kind is None:
        return None
    if kind not in DISTRIBUTIONS:
        raise UnknownNameError("distribution", kind, DISTRIBUTIONS)
    from kerasmodels.backend import tf

    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return Distribution(kind, tf.distribute.MirroredStrategy())
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return Distribution(kind, tf.distribute.MirroredStrategy(
            cpus, cross_device_ops=tf.distribute.ReductionToOneDevice()))
    config = parse_tf_config(os.environ.get("TF_CONFIG"))
    timeout = float(os.environ.get(COLLECTIVE_TIMEOUT_ENV, "120"))
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING,
        timeout_seconds=timeout)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except (RuntimeError, ValueError) as exc:
        raise DistributionError(f"MultiWorkerMirroredStrategy could not start ({exc}); it must "
                                "be created before TensorFlow runs anything else: start "
                                "training in a fresh process (kerasmodels launch does)") from None
    task = config["task"]
    workers = sum(len(config["cluster"].get(role, [])) for role in ("chief", "worker"))
    chief = task["type"] == "chief" or ("chief" not in config["cluster"] and
                                        task["type"] == "worker" and task["index"] == 0)
    return Distribution(kind, strategy, workers=workers, task_index=int(task["index"]),
                        is_chief=chief)


def distributed_dataset(x, y, batch_size: int, *, shuffle: bool, seed: int):
    """A tf.data pipeline of global batches, sharded across workers by batch."""
    from kerasmodels.backend import tf

    data = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = \
        tf.data.experimental.AutoShardPolicy.DATA
    return data.batch(batch_size).with_options(options)


def allreduce_ms(dist: Distribution, model, repeats: int = 20) -> float:
    """Milliseconds one all-reduce of tensors shaped like the model's gradients takes (what
    every training step pays to synchronise). Every worker must call it together."""
    from kerasmodels.backend import tf

    shapes = [v.shape for v in model.trainable_variables]

    @tf.function
    def reduce_once():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            return context.all_reduce(tf.distribute.ReduceOp.SUM,
                                      [tf.ones(shape) for shape in shapes])
        return dist.strategy.run(replica_fn)

    def wait(result):
        first = result[0]
        return dist.strategy.experimental_local_results(first)[0].numpy()

    wait(reduce_once())  # trace and warm up
    started = time.perf_counter()
    for _ in range(repeats):
        wait(reduce_once())
    return (time.perf_counter() - started) * 1000 / repeats


def weights_digest(model) -> str:
    """sha256 of every weight's bytes: equal digests mean bit-identical models."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


# -- the local launcher ------------------------------------------------------------------------

def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def launch(args: list[str], workers: int = 2, *, grace: float = 30.0,
           env: dict[str, str] | None = None, out: TextIO | None = None) -> int:
    """Run a ``kerasmodels`` command as local workers of one multi-worker training.

    Each worker is a process running ``kerasmodels <args> --distribution multiworker`` with
    its ``TF_CONFIG`` (loopback addresses), under ``MultiWorkerMirroredStrategy``; their output
    is streamed prefixed ``[worker i]``. When a worker fails, the others get ``grace`` seconds
    to stop on their own (their collectives time out) and are then terminated, with a message
    naming the failed worker. It checks that a multi-host run is correct before you pay for
    hosts.

    Args:
        args: the command and its arguments (``["train", "--arch", "cnn"]``).
        workers: how many worker processes.
        grace: seconds the others get to stop after one fails.
        env: extra environment variables for the workers.
        out: where the prefixed output goes (default: stdout).

    Returns:
        0 when every worker succeeded, else the first failure's exit code (or 1).

    Raises:
        HyperparameterError: a worker count below 1, a negative grace, or no command.

    Examples:
        >>> import io
        >>> import kerasmodels as km
        >>> log = io.StringIO()
        >>> km.launch(["train", "--arch", "linear", "--epochs", "1"], workers=2, out=log)
        0
        >>> "[launch] all 2 workers finished" in log.getvalue()
        True
    """
    from kerasmodels.errors import HyperparameterError

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise HyperparameterError(f"--workers must be a positive integer, got {workers!r}")
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not 0 <= grace < 1e6:
        raise HyperparameterError(f"--grace must be a number of seconds >= 0, got {grace!r}")
    if not args:
        raise HyperparameterError("give the command for the workers, e.g. "
                                  "kerasmodels launch --workers 2 -- train --arch mlp")
    out = out or sys.stdout
    if "--distribution" not in args:
        args = [*args, "--distribution", "multiworker"]
    addresses = [f"127.0.0.1:{port}" for port in free_ports(workers)]
    processes: list[subprocess.Popen] = []
    from kerasmodels.processes import caught_signals, stop

    try:
        with caught_signals() as received:  # SIGTERM/INT/HUP stop every worker
            return _run_workers(args, workers, addresses, grace, env, out, processes, received)
    finally:
        for process in processes:  # whatever happened, no worker outlives the launcher
            stop(process, grace=5.0)


def _run_workers(args, workers, addresses, grace, env, out, processes, received) -> int:
    from kerasmodels.processes import start_owned, stop

    lock = threading.Lock()

    def pump(index: int, stream) -> None:
        for line in stream:
            with lock:
                out.write(f"[worker {index}] {line}")
                out.flush()

    threads = []
    for index in range(workers):
        tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        process = start_owned(
            [sys.executable, "-m", "kerasmodels", *args],
            env={**os.environ, **(env or {}), "TF_CONFIG": json.dumps(tf_config),
                 "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        processes.append(process)
        with lock:
            out.write(f"[launch] worker {index}: pid {process.pid}, {addresses[index]}\n")
        thread = threading.Thread(target=pump, args=(index, process.stdout), daemon=True)
        thread.start()
        threads.append(thread)
    failed: tuple[int, int] | None = None
    failed_at = 0.0
    while any(p.poll() is None for p in processes):
        if received:
            with lock:
                out.write(f"[launch] signal {received[0]}: stopping every worker\n")
            for process in processes:
                stop(process, grace=5.0)
            return 128 + received[0]
        for index, process in enumerate(processes):
            code = process.poll()
            if code not in (None, 0) and failed is None:
                failed, failed_at = (index, code), time.monotonic()
                with lock:
                    out.write(f"[launch] worker {index} failed with exit code {code}: the "
                              f"others get {grace:.0f} s to stop, then are terminated\n")
        if failed is not None and time.monotonic() - failed_at > grace:
            for index, process in enumerate(processes):
                if process.poll() is None:  # SIGTERM, and SIGKILL 5 s later if it is ignored
                    stop(process, grace=5.0)
                    with lock:
                        out.write(f"[launch] terminated worker {index}\n")
            break
        time.sleep(0.1)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    for thread in threads:
        thread.join(timeout=5)
    if failed is None:
        failed = next(((i, p.returncode) for i, p in enumerate(processes) if p.returncode), None)
    if failed is not None:
        out.write(f"[launch] stopped: worker {failed[0]} failed (exit code {failed[1]})\n")
        return failed[1] if isinstance(failed[1], int) and failed[1] > 0 else 1
    out.write(f"[launch] all {workers} workers finished\n")
    return 0


def lost_worker(exc: Exception) -> DistributionError:
    """The clear error for a collective that failed because another worker is gone."""
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return DistributionError(f"the cluster lost a worker ({type(exc).__name__}: {first}); this "
                             "worker stops too and nothing was saved: restart the training on "
                             "every worker")


__all__ = ["DISTRIBUTIONS", "Distribution", "DistributionError", "allreduce_ms", "launch",
           "lost_worker", "make_distribution", "parse_tf_config", "weights_digest"]
