"""One sweep run as a child process: the ordinary ``nntrain fit BASE --set ... --run-dir DIR``
(or ``nntrain resume DIR --latest``), so a sweep run is bit-identical to a lone run and a
signal stops it through the same save-and-stop path. Used by the local pool and by Ray tasks.

The child reports progress as JSON lines on stdout (``NNTRAIN_PROGRESS=jsonl``, see
nntrain/cli/progress_jsonl.py); errors and the interrupt notice arrive on stderr.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

CLI = "from nntrain.cli.main import main; main()"
PROGRESS_ENV = "NNTRAIN_PROGRESS"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SIGNAL_CODES = {130: signal.SIGINT, 143: signal.SIGTERM, -signal.SIGINT: signal.SIGINT,
                -signal.SIGTERM: signal.SIGTERM}


@dataclass
class Outcome:
    """How a run ended: finished, interrupted, failed, or not started (the sweep stopped
    first); `code` is the child's exit status, `message` its error line when it failed."""

    status: str
    code: int | None = None
    message: str = ""
    seconds: float = 0.0


def child_argv(spec: dict) -> list[str]:
    """The command line of a run. `spec`: ``{"action": "fit"|"resume", "base", "sets",
    "directory", ...}``; built where the child runs (its interpreter)."""
    if spec["action"] == "resume":
        return [sys.executable, "-c", CLI, "resume", spec["directory"], "--latest"]
    argv = [sys.executable, "-c", CLI, "fit", spec["base"]]
    for assignment in spec["sets"]:
        argv += ["--set", assignment]
    return argv + ["--run-dir", spec["directory"]]


def child_env(threads: int) -> dict:
    """This process's environment plus the progress stream and, unless the user set them,
    `threads` BLAS/OpenMP threads per run (so N parallel runs do not oversubscribe cores)."""
    env = dict(os.environ)
    env[PROGRESS_ENV] = "jsonl"
    for var in THREAD_VARS:
        env.setdefault(var, str(threads))
    return env


def classify(code: int, stderr: list[str]) -> Outcome:
    """Exit status → outcome; a failure's message is the child's last ``error:`` line."""
    if code == 0:
        return Outcome("finished", code)
    if code in SIGNAL_CODES:
        return Outcome("interrupted", code)
    errors = [line for line in stderr if line.startswith("error:")]
    text = errors[-1] if errors else next((line for line in reversed(stderr) if line.strip()),
                                          "")
    if code < 0:
        text = text or f"killed by signal {-code}"
    return Outcome("failed", code, text.removeprefix("error: ").strip() or f"exit status {code}")


class Child:
    """A running run: the process, a thread turning its stdout into events for `on_event`,
    another keeping the tail of its stderr."""

    def __init__(self, spec: dict, on_event, threads: int = 1):
        self.spec, self.on_event = spec, on_event
        self.started = time.monotonic()
        self.stderr: collections.deque[str] = collections.deque(maxlen=200)
        self.signals_sent = 0
        # A session of its own: a terminal's Ctrl-C reaches the sweep alone, which passes it on
        # exactly once (a second signal would make the child stop at once, unsaved).
        self.proc = subprocess.Popen(child_argv(spec), cwd=spec["cwd"], env=child_env(threads),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1,
                                     start_new_session=True)
        self.readers = [threading.Thread(target=self._read_events, daemon=True),
                        threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self.readers:
            t.start()

    def _read_events(self) -> None:
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if not isinstance(event, dict):
                event = {"event": "message", "text": line}
            self.on_event(event)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def send(self, signals: list[int]) -> None:
        """Pass on the signals of `signals` this child has not had yet."""
        for signum in signals[self.signals_sent:]:
            try:
                self.proc.send_signal(signum)
            except ProcessLookupError:
                pass
        self.signals_sent = max(self.signals_sent, len(signals))

    def poll(self) -> int | None:
        return self.proc.poll()

    def finish(self) -> Outcome:
        """Wait for the process and its readers; the outcome with the run's wall time."""
        code = self.proc.wait()
        for t in self.readers:
            t.join(timeout=5)
        outcome = classify(code, list(self.stderr))
        outcome.seconds = time.monotonic() - self.started
        return outcome
