"""Running a sweep's runs as parallel local processes, `workers` at a time.

SIGINT / SIGTERM to the sweep process are passed on to every running child, which finishes
its batch, checkpoints and exits 130 / 143 (a second signal: stops at once, as for a lone
run); no new run starts after a signal. The observer hears of every run's start, progress
events and outcome, all on the calling thread.
"""

from __future__ import annotations

import collections
import queue
import signal
from contextlib import contextmanager

from nntrain.experiments.worker import Child, Outcome

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopper:
    """Remembers the stop signals the sweep got (in order) and calls `forward(signals)` on
    each one, from the signal handler."""

    def __init__(self, forward):
        self.signals: list[int] = []
        self.forward = forward

    def handle(self, signum, frame) -> None:
        self.signals.append(signum)
        self.forward(self.signals)

    @contextmanager
    def installed(self):
        previous = {s: signal.signal(s, self.handle) for s in STOP_SIGNALS}
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def run_local(specs: list[dict], workers: int, observer, threads: int = 1
              ) -> tuple[dict[str, Outcome], list[int]]:
    """Run every spec (see worker.child_argv) with at most `workers` at once; returns the
    outcome of each run id and the stop signals the sweep received."""
    events: queue.Queue = queue.Queue()
    pending = collections.deque(specs)
    active: dict[str, Child] = {}
    outcomes: dict[str, Outcome] = {}

    def forward(signals):
        for child in list(active.values()):
            child.send(signals)

    stopper = Stopper(forward)
    with stopper.installed():
        while active or (pending and not stopper.signals):
            while pending and len(active) < workers and not stopper.signals:
                spec = pending.popleft()
                observer.run_begin(spec["id"])
                child = Child(spec, lambda ev, i=spec["id"]: events.put((i, ev)), threads)
                active[spec["id"]] = child
                child.send(stopper.signals)      # a signal that came while it was starting
            _deliver(events, observer, timeout=0.1)
            for run_id, child in list(active.items()):
                if child.poll() is not None:
                    outcome = child.finish()
                    del active[run_id]
                    _deliver(events, observer, timeout=0)
                    outcomes[run_id] = outcome
                    observer.run_end(run_id, outcome)
    for spec in pending:
        outcomes[spec["id"]] = Outcome("not started")
    return outcomes, stopper.signals


def _deliver(events: queue.Queue, observer, timeout: float) -> None:
    """Hand the queued progress events to the observer (waiting up to `timeout` for one)."""
    try:
        item = events.get(timeout=timeout) if timeout else events.get_nowait()
    except queue.Empty:
        return
    while True:
        observer.run_event(*item)
        try:
            item = events.get_nowait()
        except queue.Empty:
            return
