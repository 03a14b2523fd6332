"""load_dataset / load_inputs: formats, splits, label forms and every kind of bad input."""

import numpy as np
import pytest

from nntrain.data import Dataset, Split, load_dataset, load_inputs, resolve_data_paths
from nntrain.errors import ConfigError, DataError

SHAPES = {"input": (4,)}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def arrays(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, size=n)


def load(cfg, **kw):
    args = dict(input_shapes=SHAPES, output_shape=(3,), label_kind="sparse")
    args.update(kw)
    return load_dataset(cfg, **args)


def raises(cfg, key, *fragments, **kw):
    with pytest.raises(DataError) as e:
        load(cfg, **kw)
    assert e.value.key == key, str(e.value)
    for f in fragments:
        assert f in str(e.value), str(e.value)
    return e.value


def test_npz_round_trip_with_defaults_and_test(workdir):
    x, y = arrays()
    xt, yt = arrays(6, seed=1)
    np.savez("d.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    ds = load({"path": "d.npz", "test": {"x": "x_test", "y": "y_test"}})
    assert isinstance(ds, Dataset) and isinstance(ds.train, Split)
    np.testing.assert_array_equal(ds.train.x[0], x)
    assert ds.train.y.dtype == np.int64 and list(ds.train.y) == list(y)
    np.testing.assert_array_equal(ds.test.x[0], xt)
    assert ds.val is None and ds.describe() == "train 20, test 6 samples"
    assert isinstance(ds.train.x[0], np.memmap)


def test_test_with_its_own_path(workdir):
    x, y = arrays()
    np.savez("train.npz", x_train=x, y_train=y)
    np.savez("test.npz", x_test=x[:5], y_test=y[:5])
    ds = load({"path": "train.npz", "test": {"path": "test.npz"}})
    assert len(ds.test) == 5


def test_npy_round_trip_y_names_a_path(workdir):
    x, y = arrays()
    np.save("x.npy", x)
    np.save("y.npy", y)
    ds = load({"path": "x.npy", "y": "y.npy"})
    assert isinstance(ds.train.x[0], np.memmap)
    np.testing.assert_array_equal(ds.train.x[0], x)
    raises({"path": "x.npy"}, "data.y", "path of the .npy file of labels")
    raises({"path": "x.npy", "x": "x_train", "y": "y.npy"}, "data.x", "leave data.x out")


def test_csv_round_trip(workdir):
    (workdir / "t.csv").write_text("a,b,label,c,d\n" + "".join(
        f"{i},{i + 1},{i % 3},{2 * i},{-i}\n" for i in range(10)))
    ds = load({"path": "t.csv", "y": "label"})  # x = every column but the label
    np.testing.assert_array_equal(ds.train.x[0][:, 0], np.arange(10))
    np.testing.assert_array_equal(ds.train.x[0][:, 3], -np.arange(10))
    assert list(ds.train.y) == [i % 3 for i in range(10)]
    ds = load({"path": "t.csv", "x": ["d", "c", "b", "a"], "y": "label"})
    np.testing.assert_array_equal(ds.train.x[0][2], [-2, 4, 3, 2])
    raises({"path": "t.csv"}, "data.y", "label column", "label")
    raises({"path": "t.csv", "x": ["a", "b"], "y": "label"}, "data.x", "[2]", "[4]")


def test_csv_bad_cell_names_row_and_column(workdir):
    (workdir / "t.csv").write_text("a,b,c,d,label\n1,2,3,4,0\n1,2,x,4,0\n")
    raises({"path": "t.csv", "y": "label"}, "data.x", "row 2", "'c'", "'x'")


def test_several_inputs_by_name(workdir):
    x, y = arrays()
    np.savez("d.npz", a=x, b=x[:, :2], y_train=y)
    shapes = {"wide": (4,), "narrow": (2, 1)}
    ds = load({"path": "d.npz", "x": {"narrow": "b", "wide": "a"}}, input_shapes=shapes)
    assert [a.shape for a in ds.train.x] == [(20, 4), (20, 2, 1)]  # model input order
    raises({"path": "d.npz", "x": "a"}, "data.x", "map from input name", input_shapes=shapes)
    raises({"path": "d.npz", "x": {"wide": "a"}}, "data.x", "'narrow'", input_shapes=shapes)
    with pytest.raises(DataError) as e:
        load({"path": "d.npz", "x": {"wide": "a", "narow": "b"}}, input_shapes=shapes)
    assert e.value.key == "data.x.narow" and "did you mean 'narrow'" in str(e.value)
    np.savez("e.npz", a=x, b=x[:10, :2], y_train=y)
    raises({"path": "e.npz", "x": {"narrow": "b", "wide": "a"}}, "data.x.narrow",
           "10 samples", input_shapes=shapes)


def test_validation_split_takes_the_last_fraction(workdir):
    x, y = arrays(10)
    np.savez("d.npz", x_train=x, y_train=y)
    ds = load({"path": "d.npz", "validation_split": 0.3})
    assert (len(ds.train), len(ds.val)) == (7, 3)
    np.testing.assert_array_equal(ds.train.x[0], x[:7])
    np.testing.assert_array_equal(ds.val.x[0], x[7:])
    np.testing.assert_array_equal(ds.val.y, y[7:])
    assert isinstance(ds.val.x[0], np.memmap)
    assert ds.describe() == "train 7, val 3 samples"
    assert load({"path": "d.npz", "validation_split": 0}).val is None


@pytest.mark.parametrize("value", [1, 1.5, -0.1, "0.2", True])
def test_validation_split_outside_range(workdir, value):
    np.savez("d.npz", x_train=arrays()[0], y_train=arrays()[1])
    raises({"path": "d.npz", "validation_split": value}, "data.validation_split", "(0, 1)")


def test_validation_split_leaving_an_empty_split(workdir):
    x, y = arrays(3)
    np.savez("d.npz", x_train=x, y_train=y)
    raises({"path": "d.npz", "validation_split": 1e-17}, "data.validation_split",
           "no validation samples")
    raises({"path": "d.npz", "validation_split": 0.7}, "data.validation_split",
           "no training samples")


def test_validation_entry_and_exclusive_with_split(workdir):
    x, y = arrays()
    np.savez("d.npz", x_train=x, y_train=y, xv=x[:4], yv=y[:4])
    ds = load({"path": "d.npz", "validation": {"x": "xv", "y": "yv"}})
    assert len(ds.val) == 4 and len(ds.train) == 20
    raises({"path": "d.npz", "validation": {"x": "xv", "y": "yv"}, "validation_split": 0.1},
           "data.validation_split", "not both")
    raises({"path": "d.npz", "validation": {"x": "xv"}}, "data.validation.y", "'y_val'")


def test_empty_arrays(workdir):
    np.savez("d.npz", x_train=np.zeros((0, 4), np.float32), y_train=np.zeros(0, np.int64))
    raises({"path": "d.npz"}, "data.x", "no samples")


def test_missing_test_when_needed(workdir):
    np.savez("d.npz", x_train=arrays()[0], y_train=arrays()[1])
    raises({"path": "d.npz"}, "data.test", "no test data", need_test=True)


def test_missing_key_and_file(workdir):
    np.savez("d.npz", x_train=arrays()[0], y_train=arrays()[1])
    raises({"path": "d.npz", "y": "labels"}, "data.y", "'labels'", "x_train, y_train")
    raises({"path": "other.npz"}, "data.path", "no such file", "other.npz")
    raises({"path": "d.npz", "test": {"path": "t.npz"}}, "data.test.path", "t.npz")
    raises({}, "data.path", "no data file")


def test_unknown_config_key(workdir):
    with pytest.raises(ConfigError) as e:
        load({"path": "d.npz", "normalise": "standard"})
    assert e.value.key == "data.normalise" and "did you mean 'normalize'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load({"path": "d.npz", "test": {"x": "a", "labels": "b"}})
    assert e.value.key == "data.test.labels"


def test_trailing_axis_of_one_is_a_view(workdir):
    x, y = arrays()
    np.savez("d.npz", x_train=x, y_train=y[:, None])
    ds = load({"path": "d.npz"}, input_shapes={"input": (4, 1)})
    assert ds.train.x[0].shape == (20, 4, 1) and isinstance(ds.train.x[0], np.memmap)
    assert ds.train.y.shape == (20,)
    np.savez("e.npz", x_train=x[:, :, None], y_train=y)
    assert load({"path": "e.npz"}).train.x[0].shape == (20, 4)


def test_wrong_shape_names_both(workdir):
    x, y = arrays()
    np.savez("d.npz", x_train=x, y_train=y)
    err = raises({"path": "d.npz"}, "data.x", "[4]", "[5, 1]", "'input'", "x_train",
                 input_shapes={"input": (5, 1)})
    assert "d.npz" in str(err)


def test_sample_counts_must_match(workdir):
    x, y = arrays()
    np.savez("d.npz", x_train=x, y_train=y[:19])
    raises({"path": "d.npz"}, "data.y", "19 samples", "20")


def test_labels_out_of_range(workdir):
    x, y = arrays()
    y[7] = 3
    np.savez("d.npz", x_train=x, y_train=y)
    raises({"path": "d.npz"}, "data.y", "label 3", "index 7", "[0, 3)")
    np.savez("e.npz", x_train=x, y_train=np.full(20, -1))
    raises({"path": "e.npz"}, "data.y", "label -1")
    np.savez("f.npz", x_train=x, y_train=np.full(20, 0.5))
    raises({"path": "f.npz"}, "data.y", "0.5", "integers")


def test_float_integer_labels_are_class_ids(workdir):
    x, y = arrays()
    np.savez("d.npz", x_train=x, y_train=y.astype(np.float64))
    assert load({"path": "d.npz"}).train.y.dtype == np.int64


def test_onehot_conversion_and_width(workdir):
    x, y = arrays()
    np.savez("d.npz", x_train=x, y_train=y)
    ds = load({"path": "d.npz"}, label_kind="onehot")
    assert ds.train.y.shape == (20, 3) and ds.train.y.dtype == np.float32
    np.testing.assert_array_equal(ds.train.y.argmax(1), y)
    np.testing.assert_array_equal(ds.train.y.sum(1), 1)
    np.savez("e.npz", x_train=x, y_train=np.eye(4)[y])
    raises({"path": "e.npz"}, "data.y", "[20, 4]", "[n, 3]", label_kind="onehot")
    np.savez("f.npz", x_train=x, y_train=np.eye(3)[y])
    assert load({"path": "f.npz"}, label_kind="onehot").train.y.shape == (20, 3)
    raises({"path": "f.npz"}, "data.y", "sparse labels")


def test_dense_labels(workdir):
    x, _ = arrays()
    np.savez("d.npz", x_train=x, y_train=x[:, :2].astype(np.float64))
    ds = load({"path": "d.npz"}, label_kind="dense", output_shape=(2,))
    assert ds.train.y.dtype == np.float32 and ds.train.y.shape == (20, 2)
    raises({"path": "d.npz"}, "data.y", "[2]", "[3]", label_kind="dense", output_shape=(3,))


def test_nan_and_inf_are_counted_with_the_first_index(workdir, monkeypatch):
    monkeypatch.setattr("nntrain.data.checks.CHUNK_ELEMENTS", 8)  # several chunks
    x, y = arrays()
    x[13, 2] = np.nan
    x[17, 0] = np.inf
    x[18, 3] = -np.inf
    np.savez("d.npz", x_train=x, y_train=y)
    raises({"path": "d.npz"}, "data.x", "3 NaN/inf values", "index [13, 2]")
    x, _ = arrays()
    np.savez("e.npz", x_train=x, y_train=np.where(np.arange(20) == 4, np.nan, 1.0))
    raises({"path": "e.npz"}, "data.y", "1 NaN/inf value;", "index 4")
    np.savez("f.npz", x_train=x, y_train=np.ones(20), x_test=x, y_test=np.full(20, np.nan))
    raises({"path": "f.npz", "test": {}}, "data.test.y", "20 NaN/inf")


def test_non_numeric_array(workdir):
    np.savez("d.npz", x_train=np.array(["a"] * 20), y_train=arrays()[1])
    raises({"path": "d.npz"}, "data.x", "expected numbers")


def test_resolve_data_paths(workdir):
    cfg = {"path": "x.npy", "y": "y.npy", "test": {"path": "t.npz", "x": "a", "y": "b"}}
    out = resolve_data_paths(cfg)
    assert out["path"] == str(workdir / "x.npy") and out["y"] == str(workdir / "y.npy")
    assert out["test"] == {"path": str(workdir / "t.npz"), "x": "a", "y": "b"}
    assert cfg["path"] == "x.npy"  # the input is not modified


def test_load_inputs_formats(workdir):
    x, _ = arrays()
    np.save("x.npy", x)
    np.savez("one.npz", whatever=x)
    np.savez("two.npz", x=x, y=x)
    np.savez("multi.npz", wide=x, narrow=x[:, :2])
    (workdir / "x.csv").write_text("a,b,c,d\n1,2,3,4\n5,6,7,8\n")
    for path in ("x.npy", "one.npz", "two.npz"):
        got = load_inputs(path, None, {"input": (4, 1)}, np.float32)
        assert got[0].shape == (20, 4, 1) and isinstance(got[0], np.memmap)
    got = load_inputs("multi.npz", None, {"wide": (4,), "narrow": (2,)}, np.float32)
    assert [a.shape for a in got] == [(20, 4), (20, 2)]
    got = load_inputs("x.csv", None, SHAPES, np.float32)
    assert got[0].dtype == np.float32 and got[0].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    got = load_inputs("x.csv", ["b", "c"], {"input": (2,)}, np.float32)
    assert got[0].tolist() == [[2, 3], [6, 7]]
    with pytest.raises(DataError) as e:
        load_inputs("x.npy", None, {"input": (3,)}, np.float32)
    assert e.value.key == "--input" and "[4]" in str(e.value)
