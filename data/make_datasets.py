"""Regenerate the datasets shipped in data/ (see data/README.md).

Run with a throwaway virtualenv that has the generators; they are not nntrain dependencies:

    python3 -m venv /tmp/mk && /tmp/mk/bin/pip install mnist1d==0.0.2.post1 scikit-learn==1.9.1
    /tmp/mk/bin/python data/make_datasets.py

Nothing is downloaded: MNIST-1D is generated procedurally by `mnist1d.data.make_dataset` (not
`get_dataset`, whose default downloads a pickle), and the 8x8 digits ship inside scikit-learn.
The padded sequences need only NumPy (``python data/make_datasets.py padded_sequences.npz``
makes that one alone). The files are written with `np.savez` (uncompressed) so nntrain can
memory-map their members.
"""

from __future__ import annotations

from pathlib import Path

import sys

import numpy as np

HERE = Path(__file__).resolve().parent
DIGITS_SEED = 0
DIGITS_TEST = 360
PADDED_SEED, PADDED_STEPS, PADDED_VOCABULARY = 0, 50, 10


def make_mnist1d() -> dict[str, np.ndarray]:
    """4000 train / 1000 test sequences of length 40, 10 classes, the package's default args."""
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())
    return {"x_train": d["x"].astype(np.float32), "y_train": d["y"].astype(np.int64),
            "x_test": d["x_test"].astype(np.float32), "y_test": d["y_test"].astype(np.int64)}


def make_digits() -> dict[str, np.ndarray]:
    """1797 8x8 images (values 0..16) as (n, 8, 8, 1) float32; a seeded stratified 1437/360 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST, stratify=y, random_state=DIGITS_SEED)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def make_padded_sequences() -> dict[str, np.ndarray]:
    """2000 train / 500 test sequences of 3 to 50 token ids in 1..9, padded with 0 at the end
    to 50 steps (uint8); the label is 1 when the mean of the ids is above 5 (int64). What an
    LSTM learns at once when the padding is masked (Embedding mask_zero) and struggles with
    when it must carry its state across up to 47 padding steps."""
    rng = np.random.default_rng(PADDED_SEED)
    n = 2500
    lengths = rng.integers(3, PADDED_STEPS + 1, size=n)
    x = np.zeros((n, PADDED_STEPS), dtype=np.uint8)
    y = np.zeros(n, dtype=np.int64)
    for i, length in enumerate(lengths):
        ids = rng.integers(1, PADDED_VOCABULARY, size=length)
        x[i, :length] = ids
        y[i] = ids.mean() > 5
    return {"x_train": x[:2000], "y_train": y[:2000], "x_test": x[2000:], "y_test": y[2000:]}


MAKERS = {"mnist1d.npz": make_mnist1d, "digits.npz": make_digits,
          "padded_sequences.npz": make_padded_sequences}


def main(names: list[str]) -> None:
    for name in names or MAKERS:
        make = MAKERS[name]
        arrays = {k: np.ascontiguousarray(v) for k, v in make().items()}
        np.savez(HERE / name, **arrays)
        shapes = ", ".join(f"{k} {v.dtype} {v.shape}" for k, v in arrays.items())
        print(f"wrote {name}: {shapes}")


if __name__ == "__main__":
    main(sys.argv[1:])
