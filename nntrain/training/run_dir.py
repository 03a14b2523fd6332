"""The run directory (SPEC §3), named once: every file name and template a run uses, how `fit`
picks a fresh directory, how commands find the latest run, the one-writer lock and the status
file that tells finished, interrupted, failed and running runs apart.

    runs/<name>/
      config.yaml              the resolved config
      checkpoints/cp-0001.npz  checkpoints (RunDir.CHECKPOINT_TEMPLATE)
      checkpoints/final.npz    the weights fit ended with (e.g. restored by EarlyStopping)
      checkpoints/checkpoint   the index: latest, best, final, every checkpoint (JSON)
      history.csv              one row per epoch
      data.npz                 the arrays a run made by the Python API trains on
      status.json              running | finished | interrupted | failed, pid, times, message
      .lock                    held (flock) by the one process training the run
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from nntrain.errors import CheckpointError, WriteError
from nntrain.training.atomic_files import atomic_write_text, process_alive

RUNS_ROOT = "runs"
INDEX_NAME = "checkpoint"        # inside the checkpoints directory
STATUSES = ("running", "finished", "interrupted", "failed")


@dataclass(frozen=True)
class RunDir:
    """The files of one run directory. Paths relative to the run (as callbacks' templates are
    written) resolve with `file`."""

    path: Path

    CONFIG = "config.yaml"
    CHECKPOINTS = "checkpoints"
    HISTORY = "history.csv"
    DATA = "data.npz"
    STATUS = "status.json"
    LOCK = ".lock"
    FINAL = "checkpoints/final.npz"
    CHECKPOINT_TEMPLATE = "checkpoints/cp-{epoch:04d}.npz"

    # what a callback must not write over (its file paths are relative to the run)
    OWN = (CONFIG, CHECKPOINTS, STATUS, LOCK, DATA, FINAL, f"{CHECKPOINTS}/checkpoint")

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    def file(self, relative: str | Path) -> Path:
        return self.path / relative

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def checkpoints(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def index(self) -> Path:
        return self.checkpoints / INDEX_NAME

    @property
    def history(self) -> Path:
        return self.path / self.HISTORY

    @property
    def final(self) -> Path:
        return self.path / self.FINAL

    @property
    def status_file(self) -> Path:
        return self.path / self.STATUS

    @property
    def lock_file(self) -> Path:
        return self.path / self.LOCK

    def checkpoint_name(self, epoch: int) -> str:
        """The default checkpoint of an epoch, relative to the run."""
        return self.CHECKPOINT_TEMPLATE.format(epoch=epoch)

    def is_run(self) -> bool:
        return self.config.is_file()

    def __str__(self) -> str:
        return str(self.path)


# -- finding runs -------------------------------------------------------------------------------
def base_directory(config_data: dict, run_dir: str | None, config_name: str) -> Path:
    """Where `fit` wants to write: ``--run-dir``, else the config's ``run_dir``, else
    ``runs/<name>`` with the config's ``name`` or the config file's stem."""
    target = run_dir or config_data.get("run_dir")
    if target:
        return Path(target)
    return Path(RUNS_ROOT) / (config_data.get("name") or config_name or "run")


def new_run_dir(base: Path) -> RunDir:
    """`base` if free (absent or an empty directory), else `base-2`, `base-3`, ...; created
    and claimed here, race-free: processes asking for the same name at once (a sweep's
    workers, two `fit`s) get different directories, and none writes into an existing run."""
    base = Path(base)
    if base.name in ("", ".", ".."):
        base = base.resolve()
        if not base.name:
            raise CheckpointError("expected a directory to create the run in", file=str(base))
    candidate, n = base, 1
    while not _claim(candidate):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return RunDir(candidate)


def _claim(path: Path) -> bool:
    """Make `path` a new run's directory if nothing is in it yet. Creating its checkpoints/
    sub-directory is the claim: of several processes only one mkdir succeeds."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        if any(path.iterdir()):
            return False
        (path / RunDir.CHECKPOINTS).mkdir()
        return True
    except (FileExistsError, NotADirectoryError):
        return False
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            raise CheckpointError("the name is too long for the file system",
                                  file=str(path)) from None
        raise WriteError(path, e.errno) from e


def latest_run(root: str | Path = RUNS_ROOT) -> RunDir:
    """The most recently written run directly under `root` (by its index, history or config)."""
    root = Path(root)
    runs = [RunDir(p) for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    runs = [r for r in runs if r.is_run()]
    if not runs:
        raise CheckpointError(f"no runs under {root}/; give a RUN_DIR or run `nntrain fit` first")

    def written(run: RunDir) -> float:
        return max(f.stat().st_mtime for f in (run.config, run.history, run.index) if f.exists())
    return max(runs, key=written)


def run_dir_argument(run_dir: str | Path | None) -> RunDir:
    """The RUN_DIR a command was given, or the latest run; checked to be a run."""
    run = RunDir(run_dir) if run_dir else latest_run()
    if not run.is_run():
        raise CheckpointError("not a run directory (no config.yaml)", file=str(run.path))
    return run


# -- one writer per run -------------------------------------------------------------------------
class RunLock:
    """An exclusive `flock` on RUN/.lock for as long as a process trains the run. The OS drops
    it when the process dies (even by SIGKILL), so no lock is ever stale. The file holds the
    holder's pid and start time for the message a second writer gets."""

    ATTEMPTS, PAUSE = 20, 0.05   # a reader probing the lock holds it for microseconds

    def __init__(self, run: RunDir):
        self.run = run
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            fd = os.open(self.run.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise WriteError(self.run.lock_file, e.errno) from e
        for attempt in range(self.ATTEMPTS):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise
                holder = _read_holder(fd)
                if process_alive(holder.get("pid")) or attempt == self.ATTEMPTS - 1:
                    os.close(fd)
                    raise CheckpointError(f"{self.run} is being trained by process "
                                          f"{holder.get('pid', '?')} (started "
                                          f"{holder.get('started', '?')}); wait for it or stop "
                                          f"it first") from None
                time.sleep(self.PAUSE)
        info = json.dumps({"pid": os.getpid(), "started": _now()}).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, info, 0)
        except OSError as e:
            os.close(fd)
            raise WriteError(self.run.lock_file, e.errno) from e
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:   # the holder's pid stays in the file; the lock goes all the same
                pass
            os.close(self._fd)   # closing drops the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def lock_holder(run: RunDir) -> dict | None:
    """The pid/start of the process training `run`, or None when nobody holds its lock."""
    if not run.lock_file.exists():
        return None
    fd = os.open(run.lock_file, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_holder(fd) or {"pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# -- status ---------------------------------------------------------------------------------------
def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def write_status(run: RunDir, status: str, message: str | None = None) -> None:
    """Record where the run stands (status.json); "running" starts a new session of the run,
    the other statuses end it."""
    assert status in STATUSES, status
    started = _now() if status == "running" else (read_status(run) or {}).get("started")
    record = {"status": status, "pid": os.getpid(), "started": started,
              "ended": None if status == "running" else _now(), "message": message}
    atomic_write_text(run.status_file, json.dumps(record, indent=2))


def read_status(run: RunDir) -> dict | None:
    try:
        return json.loads(run.status_file.read_text())
    except (OSError, ValueError):
        return None


def recorded_status(run: RunDir) -> str | None:
    """What status.json says, corrected by the lock: a run recorded as running whose lock
    nobody holds was killed (SIGKILL, power loss), so it is interrupted. None without a status
    file (a run written by an older nntrain; `restore.run_status` judges those)."""
    record = read_status(run)
    if record is None:
        return None
    status = record.get("status")
    if status == "running":
        return "running" if lock_holder(run) is not None else "interrupted"
    return status if status in STATUSES else "interrupted"
