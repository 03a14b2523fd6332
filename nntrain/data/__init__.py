"""Data: reading `.npz` / `.npy` / `.csv` files, train/validation/test splits, checks before
training, and normalization with statistics from the training split.

    from nntrain.data import load_dataset, load_inputs, Dataset, Split, Normalizer
"""

from nntrain.data.dataset import (Dataset, Split, load_dataset, load_inputs, resolve_data_paths,
                                  split_from_arrays, split_last)
from nntrain.data.normalize import Normalizer

__all__ = ["Dataset", "Split", "Normalizer", "load_dataset", "load_inputs", "resolve_data_paths",
           "split_from_arrays", "split_last"]
