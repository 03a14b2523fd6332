"""Running a sweep's runs as Ray tasks (Ray Core: one ``ray.remote(num_cpus=...)`` task per
run) on a cluster whose nodes all reach the run directories (a shared filesystem at the same
path) and have nntrain installed.

A task runs the same child process as a local worker (nntrain/experiments/worker.py), so run
directories, resume and the save-and-stop path are the same. A small actor carries progress
events up to the sweep and stop signals down to the tasks.
"""

from __future__ import annotations

import logging
import socket
import time

from nntrain.errors import InputError
from nntrain.experiments.local import Stopper
from nntrain.experiments.worker import Child, Outcome, classify

DEFAULT_PORT = 6379
POLL_SECONDS = 0.2


def import_ray():
    try:
        import ray
    except ImportError:
        raise InputError('--ray needs ray: pip install "nntrain[ray]"') from None
    return ray


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """A TCP connection to the head's address, so a wrong address fails at once with a clear
    line instead of Ray's long retries."""
    host_port = address.removeprefix("ray://").rstrip("/")
    host, sep, port = host_port.rpartition(":")
    if not sep:
        host, port = host_port, str(DEFAULT_PORT)
    if not host or not port.isdigit():
        raise InputError(f"expected HOST:PORT, ray://HOST:PORT or auto, received {address!r}",
                         file="--ray")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        reason = e.strerror or str(e) or type(e).__name__
        raise InputError(f"cannot reach a Ray cluster at {address} ({reason}); start one with "
                         f"`ray start --head` and pass --ray <head-ip>:{DEFAULT_PORT}, or "
                         f"--ray auto on a node of the cluster", file="--ray") from None


def connect(address: str) -> bool:
    """Join the cluster at `address` (or ``auto``); reuse a connection this process already has.
    Returns whether this call connected (and so should disconnect at the end)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address != "auto":
        check_reachable(address)
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot connect to Ray at {address}: {first}", file="--ray") from None
    return True


def disconnect() -> None:
    import_ray().shutdown()


class Channel:
    """The actor between the sweep and its tasks: progress events up, stop signals down."""

    def __init__(self):
        self.events: list = []
        self.signals: list[int] = []

    def put(self, run_id: str, events: list[dict]) -> None:
        self.events += [(run_id, e) for e in events]

    def take(self) -> list:
        events, self.events = self.events, []
        return events

    def stop(self, signals: list[int]) -> None:
        self.signals = list(signals)

    def stop_signals(self) -> list[int]:
        return self.signals


def run_task(spec: dict, channel, threads: int) -> dict:
    """The body of a run's Ray task: start the child, pass its events up and stop signals
    down until it exits. Returns the exit status and the tail of its stderr."""
    import signal

    import ray
    if ray.get(channel.stop_signals.remote()):
        return {"status": "not started"}
    ray.get(channel.put.remote(spec["id"], [{"event": "run_begin"}]))
    buffer: list[dict] = []
    child = Child(spec, buffer.append, threads)
    interrupts: list[int] = []        # Ctrl-C (or ray.cancel) reaching this worker itself
    while child.poll() is None:
        try:
            time.sleep(POLL_SECONDS)
            if buffer:
                batch, buffer[:] = list(buffer), []
                channel.put.remote(spec["id"], batch)
            requested = ray.get(channel.stop_signals.remote())
            child.send(requested if len(requested) >= len(interrupts) else interrupts)
        except KeyboardInterrupt:
            interrupts.append(signal.SIGINT)
            child.send(interrupts)
    outcome = child.finish()
    # synchronous, so the sweep has every event of the run before it learns the outcome
    ray.get(channel.put.remote(spec["id"], list(buffer)))
    return {"status": outcome.status, "code": outcome.code, "stderr": list(child.stderr),
            "seconds": outcome.seconds}


def run_ray(specs: list[dict], cpus_per_run: float, observer
            ) -> tuple[dict[str, Outcome], list[int]]:
    """Submit every run as a task and follow them; returns outcomes and the stop signals."""
    ray = import_ray()
    channel = ray.remote(num_cpus=0)(Channel).remote()
    task = ray.remote(num_cpus=cpus_per_run, max_retries=0)(run_task)
    threads = max(1, int(cpus_per_run))
    refs = {task.remote(spec, channel, threads): spec["id"] for spec in specs}
    outcomes: dict[str, Outcome] = {}
    stopper = Stopper(lambda signals: channel.stop.remote(signals))
    with stopper.installed():
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=POLL_SECONDS)
            _deliver(ray, channel, observer)
            for ref in ready:
                run_id = refs.pop(ref)
                outcomes[run_id] = _outcome(ray, ref)
                observer.run_end(run_id, outcomes[run_id])
    return outcomes, stopper.signals


def _deliver(ray, channel, observer) -> None:
    for run_id, event in ray.get(channel.take.remote()):
        if event.get("event") == "run_begin":
            observer.run_begin(run_id)
        else:
            observer.run_event(run_id, event)


def _outcome(ray, ref) -> Outcome:
    try:
        result = ray.get(ref)
    except ray.exceptions.RayError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return Outcome("failed", None, f"the Ray task failed: {first}")
    if result["status"] == "not started":
        return Outcome("not started")
    outcome = classify(result["code"], result["stderr"])
    outcome.seconds = result["seconds"]
    return outcome
