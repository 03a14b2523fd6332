"""Crash-safe writes: temporary file in the same directory, renamed into place only when whole."""

import os

import pytest

from nntrain.training.atomic_files import (TMP_MARK, atomic_write, atomic_write_text,
                                    clean_stale_temporaries)


class Boom(Exception):
    pass


def test_writer_that_fails_halfway_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "cp-0001.npz"
    target.write_bytes(b"old and complete")

    def half_then_fail(f):
        f.write(b"new but ")
        f.flush()
        raise Boom

    with pytest.raises(Boom):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old and complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cp-0001.npz"]


def test_interrupt_while_writing_also_removes_the_temporary(tmp_path):
    target = tmp_path / "index"

    def interrupted(f):
        f.write(b"{")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert list(tmp_path.iterdir()) == []


def test_temporary_lives_next_to_the_target_and_target_is_untouched_until_rename(tmp_path):
    target = tmp_path / "sub" / "cp-0002.npz"
    target.parent.mkdir()
    target.write_bytes(b"old")
    seen = {}

    def write(f):
        tmp = os.path.realpath(f.name)
        seen["dir"] = os.path.dirname(tmp)
        seen["name"] = os.path.basename(tmp)
        seen["target_during_write"] = target.read_bytes()
        f.write(b"new")

    atomic_write(target, write)
    assert seen["dir"] == os.path.realpath(target.parent)   # same filesystem: rename is atomic
    assert seen["name"] != target.name and TMP_MARK in seen["name"]
    assert seen["target_during_write"] == b"old"
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["cp-0002.npz"]


def test_atomic_write_creates_missing_directories(tmp_path):
    target = tmp_path / "a" / "b" / "history.csv"
    atomic_write_text(target, "epoch,loss\n1,0.5\n")
    assert target.read_text() == "epoch,loss\n1,0.5\n"


def test_clean_stale_temporaries_removes_only_temporaries_of_dead_processes(tmp_path):
    # what a process killed between open() and rename leaves: ".<name>.tmp-<pid>"
    dead_pid = 2 ** 31 - 7          # above any pid_max: no such process
    stale = tmp_path / f".cp-0003.npz{TMP_MARK}{dead_pid}"
    nested = tmp_path / "checkpoints" / "best"
    nested.mkdir(parents=True)
    stale_nested = nested / f".m-0001.npz{TMP_MARK}{dead_pid}"
    for p in (stale, stale_nested):
        p.write_bytes(b"torn")
    live = tmp_path / f".history.csv{TMP_MARK}{os.getppid()}"   # a writer still running
    live.write_bytes(b"in progress")
    keep = [tmp_path / "cp-0001.npz", tmp_path / "checkpoint", tmp_path / ".hidden",
            tmp_path / "checkpoints" / "cp-0002.npz"]
    for p in keep:
        p.write_bytes(b"x")

    removed = clean_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([stale, stale_nested])
    assert not stale.exists() and not stale_nested.exists()
    assert live.exists()
    assert all(p.exists() for p in keep)
    assert clean_stale_temporaries(tmp_path / "missing") == []
