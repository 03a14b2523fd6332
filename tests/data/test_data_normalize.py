"""Normalization: statistics from the training split only, per feature, chunked, exact state."""

import json

import numpy as np
import pytest

from nntrain.data import Normalizer, load_dataset
from nntrain.errors import CheckpointError, DataError


def test_standard_statistics_come_from_the_training_split_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype(np.float32)
    x[80:] += 50.0  # the last 20% (the validation split) has a very different mean
    np.savez("d.npz", x_train=x, y_train=np.zeros(100, np.int64))
    ds = load_dataset({"path": "d.npz", "validation_split": 0.2, "normalize": "standard"},
                      input_shapes={"input": (3,)}, output_shape=(2,), label_kind="sparse")
    train = x[:80].astype(np.float64)
    np.testing.assert_allclose(ds.normalizer.shifts[0], train.mean(0), rtol=1e-6)
    np.testing.assert_allclose(ds.normalizer.scales[0], train.std(0), rtol=1e-6)
    (tx,), (vx,) = ds.normalizer.apply(ds.train.x), ds.normalizer.apply(ds.val.x)
    np.testing.assert_allclose(tx.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(tx.std(0), 1, atol=1e-5)
    assert (vx.mean(0) > 40).all()  # validation is normalized with the training statistics


def test_per_feature_over_the_last_axis_only(monkeypatch):
    monkeypatch.setattr("nntrain.data.checks.CHUNK_ELEMENTS", 7)  # many uneven chunks
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(53, 6, 2)) * [1.0, 10.0] + [3.0, -7.0]).astype(np.float32)
    norm = Normalizer.fit("standard", [x])
    flat = x.astype(np.float64).reshape(-1, 2)
    assert norm.shifts[0].shape == (2,)
    np.testing.assert_allclose(norm.shifts[0], flat.mean(0), rtol=1e-6)
    np.testing.assert_allclose(norm.scales[0], flat.std(0), rtol=1e-6)


def test_minmax_and_constant_features():
    x = np.array([[0.0, 5.0, 2.0], [10.0, 5.0, 4.0], [5.0, 5.0, 3.0]], dtype=np.float32)
    norm = Normalizer.fit("minmax", [x])
    (out,) = norm.apply([x])
    np.testing.assert_allclose(out, [[0, 0, 0], [1, 0, 1], [0.5, 0, 0.5]])
    (out,) = Normalizer.fit("standard", [x]).apply([x])
    assert np.isfinite(out).all() and (out[:, 1] == 0).all()  # std 0 -> scale 1


def test_apply_returns_new_dtype_arrays_and_leaves_a_memmap_alone(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(12, dtype=np.float64).reshape(6, 2))
    x = np.load(tmp_path / "x.npy", mmap_mode="r")
    for method in ("none", "standard", "minmax"):
        (out,) = Normalizer.fit(method, [x]).apply([x[1:3]])
        assert out.dtype == np.float32 and type(out) is np.ndarray
        out += 1
    np.testing.assert_array_equal(x, np.arange(12).reshape(6, 2))


def test_state_round_trips_exactly_through_json():
    x = np.random.default_rng(2).normal(size=(40, 5)).astype(np.float32) * 3.3 + 0.1
    for method in ("none", "standard", "minmax"):
        norm = Normalizer.fit(method, [x, x[:, :2]])
        back = Normalizer.from_state(json.loads(json.dumps(norm.state())))
        assert back.method == method and back.dtype == np.float32
        for a, b in zip(norm.apply([x, x[:, :2]]), back.apply([x, x[:, :2]])):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(norm.shifts + norm.scales, back.shifts + back.scales):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_float64_statistics():
    x = np.random.default_rng(3).normal(size=(10, 2))
    norm = Normalizer.fit("standard", [x], dtype=np.float64)
    back = Normalizer.from_state(json.loads(json.dumps(norm.state())))
    assert back.scales[0].dtype == np.float64
    assert back.scales[0].tobytes() == norm.scales[0].tobytes()


def test_bad_method_and_bad_state():
    with pytest.raises(DataError) as e:
        Normalizer.fit("standardize", [np.zeros((2, 2))])
    assert e.value.key == "data.normalize" and "did you mean 'standard'" in str(e.value)
    with pytest.raises(CheckpointError):
        Normalizer.from_state({"method": "standard"})
