"""Reading files: memory maps for .npy and uncompressed .npz members, CSV parsing, file errors."""

import zipfile

import numpy as np
import pytest

from nntrain.data.sources import CsvSource, NpySource, NpzSource, open_source
from nntrain.errors import DataError


def test_npy_opens_memory_mapped(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "x.npy", a)
    src = open_source(str(tmp_path / "x.npy"), key="data.path")
    assert isinstance(src, NpySource)
    got = src.get(key="data.x")
    assert isinstance(got, np.memmap)
    np.testing.assert_array_equal(got, a)


@pytest.mark.parametrize("order", ["C", "F"])
def test_uncompressed_npz_member_is_memory_mapped_at_its_offset(tmp_path, order):
    a = np.asarray(np.random.default_rng(0).normal(size=(5, 3, 2)), order=order)
    b = np.arange(7, dtype=np.int16)
    np.savez(tmp_path / "d.npz", a=a, b=b)
    src = open_source(str(tmp_path / "d.npz"), key="data.path")
    assert sorted(src.keys()) == ["a", "b"]
    for name, want in (("a", a), ("b", b)):
        got = src.get(name, key="data.x")
        assert isinstance(got, np.memmap)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        with pytest.raises(ValueError):  # read-only: the file is never written
            got[0] = 0


def test_compressed_npz_member_is_read(tmp_path):
    a = np.arange(10.0)
    np.savez_compressed(tmp_path / "d.npz", a=a)
    got = open_source(str(tmp_path / "d.npz"), key="data.path").get("a", key="data.x")
    assert not isinstance(got, np.memmap)
    np.testing.assert_array_equal(got, a)


def test_missing_file_names_key_and_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as e:
        open_source("nope/data.npz", key="data.test.path")
    assert e.value.key == "data.test.path"
    assert "nope/data.npz" in str(e.value) and str(tmp_path) in str(e.value)


def test_unknown_extension(tmp_path):
    with pytest.raises(DataError, match=r"\.npz, \.npy or \.csv") as e:
        open_source(str(tmp_path / "x.txt"), key="data.path")
    assert e.value.key == "data.path"


def test_missing_key_suggests_close_name(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros(3), y_train=np.zeros(3))
    src = NpzSource(str(tmp_path / "d.npz"), key="data.path")
    with pytest.raises(DataError) as e:
        src.get("x_trian", key="data.x")
    assert e.value.key == "data.x"
    assert "did you mean 'x_train'" in str(e.value) and "d.npz" in str(e.value)


def test_not_a_zip(tmp_path):
    (tmp_path / "d.npz").write_text("hello")
    with pytest.raises(DataError, match="cannot read"):
        open_source(str(tmp_path / "d.npz"), key="data.path")


def test_csv_columns_and_errors(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,label\n1,2,0\n\n3,4.5,1\n5,oops,1\n")
    src = CsvSource(str(p), key="data.path")
    assert src.keys() == ["a", "b", "label"]
    np.testing.assert_array_equal(src.columns(["a", "label"], key="data.x"),
                                  [[1, 0], [3, 1], [5, 1]])
    with pytest.raises(DataError) as e:
        src.columns(["a", "b"], key="data.x")
    msg = str(e.value)
    assert e.value.key == "data.x"
    assert "row 3" in msg and "line 5" in msg and "'b'" in msg and "'oops'" in msg
    with pytest.raises(DataError, match="did you mean 'label'"):
        src.columns(["lable"], key="data.y")


def test_csv_ragged_row(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataError, match="line 3 has 1 fields but the header has 2"):
        CsvSource(str(p), key="data.path")


def test_npz_members_listing_ignores_non_arrays(tmp_path):
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as zf:
        zf.writestr("notes.txt", "hi")
    src = NpzSource(str(tmp_path / "d.npz"), key="data.path")
    assert src.keys() == []
    with pytest.raises(DataError, match="it holds: nothing"):
        src.get("x", key="data.x")
