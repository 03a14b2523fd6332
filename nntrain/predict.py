"""`nntrain predict`: run a saved model on an input file and write what it predicts."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

from nntrain.data import load_inputs
from nntrain.errors import InputError
from nntrain.training.atomic_files import atomic_write, atomic_write_text


def predict_file(model, input_path: str, output_path: str | None) -> str:
    """Predict every row of `input_path` with `model` (an `nntrain.Model`: its normalization
    applied); write ``.npy`` (raw outputs) or ``.csv`` (outputs and, for classifiers, the
    predicted class); without `output_path`, CSV on stdout. Returns a one-line report."""
    if output_path and not output_path.endswith((".npy", ".csv")):
        raise InputError("expected an output file ending in .npy or .csv", key="--output",
                         file=output_path)
    net = model.network
    outputs = model.predict(load_inputs(input_path, None, net.input_shapes, net.dtype))
    classes = outputs.argmax(axis=-1) if outputs.shape[-1] > 1 else (outputs[..., 0] > 0.5)
    if output_path and output_path.endswith(".npy"):
        atomic_write(output_path, lambda f: np.save(f, outputs))
    else:
        flat = outputs.reshape(len(outputs), -1)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([f"p{i}" for i in range(flat.shape[1])] + ["class"])
        for row, c in zip(flat, classes.reshape(len(flat), -1)[:, 0]):
            writer.writerow([f"{v:.6g}" for v in row] + [int(c)])
        if output_path:
            atomic_write_text(output_path, buf.getvalue())
        else:
            sys.stdout.write(buf.getvalue())
    where = f" to {Path(output_path)}" if output_path else ""
    return f"Predicted {len(outputs)} samples{where}"
