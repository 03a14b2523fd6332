"""Planning a sweep: a config and its grid become checked runs, each an ordinary run directory
``runs/<sweep>/<id>/`` that the normal `fit` (or `resume --latest`) trains.

Order matters as for a lone run: every run's config (base + its values) is checked — keys,
types, model, data, callbacks — before anything is written, so bad input costs nothing.
Re-planning the same sweep finds each run's directory: finished runs are skipped, interrupted
or failed ones resumed from their latest checkpoint (or started again when they have none).

The sweep directory holds ``base.yaml`` (the config every run starts from: no ``sweep``
section, absolute data paths) and ``sweep.json`` (the grid and each run's values and label).
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nntrain import validate
from nntrain.config import Config, apply_override, load_config, validate_config
from nntrain.errors import CheckpointError, ConfigError, InputError
from nntrain.experiments import catalog, compare, space
from nntrain.from_config import located
from nntrain.training.assembly import assemble
from nntrain.training.atomic_files import atomic_write_text
from nntrain.training.launch import resolved_config
from nntrain.training.restore import latest_meta, run_status
from nntrain.training.run_dir import RUNS_ROOT, RunDir

SECTION = "sweep"
NEEDS = ("model", "compile.loss", "data")
BASE_FILE = "base.yaml"


@dataclass
class SweepRun:
    """One planned run. `sets` are its ``--set`` assignments (wildcards expanded); `action` is
    fit, resume, restart (no checkpoint yet: start again), finished or running (skipped)."""

    id: str
    params: dict
    labels: dict
    label: str
    sets: list[str]
    directory: Path
    action: str = "fit"


@dataclass
class Sweep:
    name: str
    root: Path
    source: str
    base: dict
    dims: list[space.Dimension]
    runs: list[SweepRun]
    random: int | None = None
    seed: int | None = None
    workers: int | None = None
    monitor: catalog.Monitor | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def base_file(self) -> Path:
        return self.root / BASE_FILE

    def to_run(self) -> list[SweepRun]:
        return [r for r in self.runs if r.action in ("fit", "resume", "restart")]

    def spec(self, run: SweepRun) -> dict:
        """What a worker needs to start the run (plain data, so it can travel to Ray)."""
        return {"id": run.id, "action": "resume" if run.action == "resume" else "fit",
                "base": str(self.base_file), "sets": run.sets, "directory": str(run.directory),
                "cwd": os.getcwd()}


# -- settings ------------------------------------------------------------------------------
def _section(config: Config) -> dict:
    section = config.data.get(SECTION)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"expected a mapping (grid, random, seed, name, workers), received "
                          f"{section!r}", key=SECTION)
    return section


def _setting(config: Config, section: dict, key: str, given, check):
    """A command-line value, else the section's (checked, located in the file)."""
    if given is not None:
        return given
    if key not in section:
        return None
    with located(config):
        return check(f"{SECTION}.{key}", section[key])


def _name(config: Config, section: dict, given: str | None) -> str:
    name = given or section.get("name") or config.data.get("name") \
        or Path(config.file).stem
    if not isinstance(name, str) or not name.strip() or "/" in name or name in (".", ".."):
        where = "--name" if given else config.file
        raise ConfigError(f"expected a sweep name without '/', received {name!r}",
                          key=None if given else f"{SECTION}.name", file=where,
                          line=None if given else config.lines.get(f"{SECTION}.name"))
    return name


# -- planning -------------------------------------------------------------------------------
def plan(config_path: str, grid_options=(), *, random: int | None = None,
         seed: int | None = None, name: str | None = None) -> Sweep:
    """Read the config, merge its ``sweep`` section with the options, expand the space and
    check every run's config. Writes nothing."""
    options = [space.parse_grid_option(g) for g in grid_options]
    config = load_config(config_path)
    with located(config):
        validate_config(config.data, needs=NEEDS)
    section = _section(config)
    dims = space.merge(space.parse_grid_section(section["grid"], config.file, config.lines)
                       if "grid" in section else [], options)
    if not dims:
        raise ConfigError("nothing to sweep: give --grid KEY=V1,V2,... or a sweep.grid "
                          "section", file=config.file)
    random = _setting(config, section, "random", random, validate.positive_int)
    seed = _setting(config, section, "seed", seed, validate.non_negative_int)
    workers = _setting(config, section, "workers", None, validate.positive_int)
    if seed is not None and random is None:
        raise ConfigError("--seed (or sweep.seed) chooses the random draws; give --random N "
                          "(or sweep.random) too")
    points = space.draw_random(dims, random, seed or 0) if random else space.expand_grid(dims)

    base_data = {k: v for k, v in config.data.items() if k != SECTION}
    root = Path(base_data.get("run_dir") or Path(RUNS_ROOT) / _name(config, section, name))
    base_data.pop("run_dir", None)
    planned = []
    for point in points:
        sets = _check_run(config, base_data, dims, point, several=len(points) > 1)
        planned.append(SweepRun(point.id, point.params, point.labels,
                                space.point_label(point, dims), sets, root / point.id))
    sweep = Sweep(name=root.name, root=root, source=config.file,
                  base=resolved_config(base_data), dims=dims, runs=planned,
                  random=random, seed=seed if random else None, workers=workers)
    sweep.monitor = first_monitor(base_data)
    return sweep


def _check_run(config: Config, base: dict, dims, point: space.Point, several: bool
               ) -> list[str]:
    """Apply the point's values to the base and check the result as `fit` would (without
    creating anything); returns the assignments. Errors name the --grid option (or the line of
    sweep.grid) that set the key, and the run."""
    cfg = Config(copy.deepcopy(base), config.file, config.lines)
    try:
        sets = space.assignments(cfg.data, dims, point)
        for assignment in sets:
            apply_override(cfg, assignment)
        with located(cfg):
            validate_config(cfg.data, needs=NEEDS)
            assemble(cfg)
    except InputError as e:
        if e.file == "--set":          # the run's own value: name the option or line set it
            dim = _dimension_of(e.key, cfg.data, dims)
            e.file, e.line = dim.file, dim.line
        elif several:                  # the base config with this run's values
            e.message += f" (in sweep run {point.id})"
        raise
    return sets


def _dimension_of(key: str | None, data: dict, dims) -> space.Dimension:
    for dim in dims:
        for concrete in space.concrete_keys(data, dim):
            if key and (key == concrete or key.startswith(concrete + ".")
                        or concrete.startswith(key + ".")):
                return dim
    return space.Dimension(key or "")


def first_monitor(config: dict) -> catalog.Monitor:
    """The first ModelCheckpoint/EarlyStopping monitor (the table's sort key), else the
    default checkpoint's."""
    callbacks = (config.get("fit") or {}).get("callbacks") or []
    first = [e for e in callbacks if isinstance(e, dict) and len(e) == 1
             and next(iter(e)) in ("ModelCheckpoint", "EarlyStopping")]
    has_val = bool((config.get("data") or {}).get("validation_split")
                   or (config.get("data") or {}).get("validation"))
    watched = catalog.monitors({"fit": {"callbacks": first}},
                               {"val_loss"} if has_val else {"loss"})
    return watched[0]


# -- the run directories --------------------------------------------------------------------
@contextmanager
def session(sweep: Sweep):
    """Hold the sweep directory's lock while the sweep runs (a second `nntrain sweep` of the
    same sweep is refused, not run on top of the first) and prepare it inside."""
    if catalog.is_run(sweep.root):
        raise CheckpointError("holds a run, not a sweep; give the sweep another name (--name)",
                              file=str(sweep.root))
    sweep.root.mkdir(parents=True, exist_ok=True)
    with open(sweep.root / RunDir.LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise CheckpointError(f"another `nntrain sweep` is running this sweep ({holder}); "
                                  f"wait for it or stop it", file=str(sweep.root)) from None
        lock.seek(0)
        lock.truncate()
        lock.write(json.dumps({"pid": os.getpid(), "started": time.time()}))
        lock.flush()
        prepare(sweep)
        yield sweep


def prepare(sweep: Sweep) -> None:
    """Decide each run's action from its directory, refuse directories of another config,
    then write base.yaml and sweep.json (only after every check passed)."""
    for run in sweep.runs:
        run.action = _action(sweep, run)
    for run in sweep.runs:
        if run.action == "restart":
            shutil.rmtree(run.directory)
    atomic_write_text(sweep.base_file, yaml.safe_dump(sweep.base, sort_keys=False,
                                                       default_flow_style=None))
    atomic_write_text(sweep.root / catalog.MANIFEST, json.dumps(_manifest(sweep), indent=2))


def expected_config(sweep: Sweep, run: SweepRun) -> dict:
    """The config.yaml `fit` writes for this run (base + values, absolute paths)."""
    cfg = Config(copy.deepcopy(sweep.base))
    for assignment in run.sets:
        apply_override(cfg, assignment)
    return yaml.safe_load(yaml.safe_dump(resolved_config(cfg.data), sort_keys=False))


def _action(sweep: Sweep, run: SweepRun) -> str:
    d = run.directory
    if not d.exists():
        return "fit"
    if not catalog.is_run(d):
        if any(d.iterdir()):
            raise CheckpointError("exists but is not a run directory (no config.yaml); move it "
                                  "away", file=str(d))
        return "fit"
    changes = compare.config_diff(catalog.read_config(d), expected_config(sweep, run))
    if changes:
        key, old, new = changes[0]
        show = (lambda v: "absent" if v is compare.MISSING else json.dumps(v, default=str))
        raise CheckpointError(f"holds a run of another config ({key}: {show(old)} there, "
                              f"{show(new)} now); give the sweep another name (--name) or move "
                              f"the old one away", file=str(d))
    status = run_status(d)
    if status in ("finished", "running"):
        return status
    return "resume" if latest_meta(RunDir(d)) is not None else "restart"


def _manifest(sweep: Sweep) -> dict:
    old = catalog.read_manifest(sweep.root)
    entries = {e["id"]: e for e in old.get("runs", []) if isinstance(e, dict) and "id" in e}
    for run in sweep.runs:
        entries[run.id] = {"id": run.id, "params": run.params, "labels": run.labels,
                           "label": run.label}
    return {"name": sweep.name, "config": str(Path(sweep.source).resolve()),
            "grid": [d.describe() for d in sweep.dims], "random": sweep.random,
            "seed": sweep.seed, "runs": list(entries.values())}
