"""Exact resume (SPEC §5) with every layer that draws random numbers: the augmentation layers,
the noise layers and attention dropout draw from the model's dropout stream, so N epochs
straight and k epochs + resume give bit-identical checkpoints — at an epoch end and mid-epoch —
and a resume whose stream is not restored does not."""

from __future__ import annotations

import numpy as np
import pytest

from nntrain.training.trainer import Trainer
from tests.training.test_resume import K, N, arrays_and_meta, assert_same_run

CONFIG = """\
name: aug
seed: 5
data:
  path: img.npz
  validation_split: 0.25
model:
  input_shape: [6, 6, 1]
  layers:
    - RandomFlip: {}
    - RandomTranslation: {height_factor: 0.2, width_factor: 0.2}
    - RandomRotation: {factor: 0.1, fill_mode: constant}
    - RandomZoom: {height_factor: 0.2, interpolation: nearest}
    - RandomCrop: {height: 5, width: 5}
    - GaussianNoise: {stddev: 0.1}
    - Conv2D: {filters: 4, kernel_size: 3, activation: relu}
    - SpatialDropout2D: {rate: 0.2}
    - Reshape: {target_shape: [9, 4]}
    - MultiHeadAttention: {num_heads: 2, key_dim: 2, dropout: 0.2}
    - Flatten: {}
    - GaussianDropout: {rate: 0.1}
    - Dense: {units: 8, activation: selu}
    - AlphaDropout: {rate: 0.1}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: %(epochs)d
  batch_size: 16
  callbacks:
    - ModelCheckpoint: {filepath: %(every)s, verbose: 0%(every_args)s}
"""
EVERY_EPOCH = {"every": '"checkpoints/cp-{epoch:04d}.npz"', "every_args": ""}
EVERY_2_BATCHES = {"every": '"checkpoints/cp-{epoch:04d}-{batch:02d}.npz"',
                   "every_args": ", save_freq: 2"}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """64 images 6x6 in 3 classes (the brightest third of the image), as img.npz; the cwd."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 6, 6, 1)).astype("float32")
    y = np.argmax([x[:, :2].mean((1, 2, 3)), x[:, 2:4].mean((1, 2, 3)),
                   x[:, 4:].mean((1, 2, 3))], axis=0)
    np.savez(tmp_path / "img.npz", x_train=x, y_train=y)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(project, saving):
    path = project / "c.yaml"
    path.write_text(CONFIG % {"epochs": N, **saving})
    return path


@pytest.mark.parametrize("saving,resume_from", [
    (EVERY_EPOCH, ("--latest",)),
    (EVERY_2_BATCHES, ("--checkpoint", "checkpoints/cp-0002-01.npz")),
])
def test_resume_with_augmentation_is_bit_identical(project, run_cli, saving, resume_from):
    cfg = write(project, saving)
    assert run_cli("fit", cfg, "--run-dir", "runs/straight", "--quiet")[0] == 0
    assert run_cli("fit", cfg, "--run-dir", "runs/stopped", "--quiet",
                   "--set", f"fit.epochs={K}")[0] == 0
    code, _, err = run_cli("resume", "runs/stopped", *resume_from, "--epochs", N, "--quiet")
    assert code == 0, err
    assert_same_run(project / "runs/straight", project / "runs/stopped")


def test_a_resume_without_the_dropout_stream_differs(project, run_cli, monkeypatch):
    """What makes the test above meaningful: the layers do draw from that stream."""
    cfg = write(project, EVERY_EPOCH)
    assert run_cli("fit", cfg, "--run-dir", "runs/straight", "--quiet")[0] == 0
    assert run_cli("fit", cfg, "--run-dir", "runs/stopped", "--quiet",
                   "--set", f"fit.epochs={K}")[0] == 0
    real_restore = Trainer.restore

    def restore(self, cp):
        real_restore(self, cp)
        self.dropout_rng.bit_generator.state = np.random.default_rng(99).bit_generator.state
    monkeypatch.setattr(Trainer, "restore", restore)
    assert run_cli("resume", "runs/stopped", "--latest", "--epochs", N, "--quiet")[0] == 0
    last = f"checkpoints/cp-{N:04d}.npz"
    a = arrays_and_meta(project / "runs/straight" / last)[0]
    b = arrays_and_meta(project / "runs/stopped" / last)[0]
    assert not np.array_equal(a["weights/conv2d/kernel"], b["weights/conv2d/kernel"])
