"""The confusion matrix of a classifier over a split (``nntrain evaluate --confusion``): how many
samples of each true class (rows) the model assigns to each class (columns), as
``tf.math.confusion_matrix`` lays it out.

Classes: the argmax of a several-unit output (softmax or logits alike) and of one-hot labels, or
the class id of sparse labels; for a one-unit output, 1 when the output is above 0.5 (0 for
logits, and for hinge losses, whose outputs are scores around 0) and the label's class is
``label > 0`` (0/1 labels, or -1/1 for hinge).
"""

from __future__ import annotations

import numpy as np

from nntrain.errors import DataError


def _binary_threshold(loss) -> float:
    if getattr(loss, "from_logits", False) or loss.name in ("hinge", "squared_hinge"):
        return 0.0
    return 0.5


def true_classes(y: np.ndarray, k: int, loss) -> np.ndarray:
    """Class ids (n,) of the labels of a k-unit output."""
    y = np.asarray(y)
    if loss.label_kind == "sparse":
        return y.astype(np.int64).reshape(len(y))
    if k == 1:
        values = y.reshape(len(y))
        if not np.all(np.isin(values, (0, 1, -1))):
            raise DataError("--confusion needs class labels (0/1 for a one-unit output); this "
                            "split's labels hold other values", key="--confusion")
        return (values > 0).astype(np.int64)
    rows = y.reshape(len(y), k)
    if not (np.all(np.isin(rows, (0, 1))) and np.all(rows.sum(axis=1) == 1)):
        raise DataError("--confusion needs class labels (class ids or one-hot rows); this "
                        "split's labels are not", key="--confusion")
    return rows.argmax(axis=1)


def predicted_classes(out: np.ndarray, loss) -> np.ndarray:
    """Class ids (n,) of a batch of outputs (n, k)."""
    if out.shape[-1] == 1:
        return (out.reshape(len(out)) > _binary_threshold(loss)).astype(np.int64)
    return out.argmax(axis=-1)


def confusion_matrix(network, loss, split, normalizer, batch_size: int) -> np.ndarray:
    """(k, k) int64 counts (2 x 2 for a one-unit output) over `split`, in inference mode."""
    if len(network.output_shape) != 1:
        raise DataError(f"--confusion needs one class per sample; this model outputs shape "
                        f"{list(network.output_shape)} per sample", key="--confusion")
    k = int(network.output_shape[-1])
    size = max(k, 2)
    counts = np.zeros((size, size), dtype=np.int64)
    for i in range(0, len(split), batch_size):
        xs = normalizer.apply([x[i:i + batch_size] for x in split.x])
        out = network.forward(xs, training=False)
        t = true_classes(split.y[i:i + batch_size], k, loss)
        np.add.at(counts, (t, predicted_classes(out, loss)), 1)
    return counts
