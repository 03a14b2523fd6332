"""The datasets shipped in data/ have the keys, shapes and dtypes data/README.md documents."""

from pathlib import Path

import numpy as np
import pytest

from nntrain.data import load_dataset

DATA = Path(__file__).resolve().parents[2] / "data"

SHIPPED = {
    "mnist1d.npz": {"x_train": (4000, 40), "y_train": (4000,), "x_test": (1000, 40),
                    "y_test": (1000,)},
    "digits.npz": {"x_train": (1437, 8, 8, 1), "y_train": (1437,), "x_test": (360, 8, 8, 1),
                   "y_test": (360,)},
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_file_keys_shapes_dtypes(name):
    with np.load(DATA / name, allow_pickle=False) as f:
        assert sorted(f.files) == sorted(SHIPPED[name])
        for key, shape in SHIPPED[name].items():
            a = f[key]
            assert a.shape == shape, key
            assert a.dtype == (np.float32 if key.startswith("x") else np.int64), key
            if key.startswith("y"):
                assert sorted(np.unique(a)) == list(range(10))
            else:
                assert np.isfinite(a).all()


@pytest.mark.parametrize("name, shape", [("mnist1d.npz", (40, 1)), ("digits.npz", (8, 8, 1))])
def test_shipped_files_load_memory_mapped(name, shape):
    ds = load_dataset({"path": str(DATA / name), "test": {}, "validation_split": 0.1,
                       "normalize": "standard"}, input_shapes={"input": shape},
                      output_shape=(10,), label_kind="sparse", need_test=True)
    assert isinstance(ds.train.x[0], np.memmap)  # saved uncompressed on purpose
    assert len(ds.train) + len(ds.val) == SHIPPED[name]["y_train"][0]
    assert len(ds.test) == SHIPPED[name]["y_test"][0]
