"""Training and inference speed of nntrain against PyTorch (CPU) on the same models and data.

Run outside the test suite, on an otherwise idle machine:

    python benchmarks/bench_vs_torch.py [--threads N] [--epochs E] [--only NAME]

For each model it trains E epochs of MNIST-1D (batch 32, Adam, the same batches in the same
order for both engines), then runs inference over the test set, and prints seconds per epoch,
milliseconds per inference pass and the ratio nntrain / torch (below 1: nntrain is faster).
Both engines get the same number of threads (NumPy's BLAS via threadpoolctl-free env vars is
fixed at start: set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS before running to change it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from nntrain.builder import build_model
from nntrain.losses import get_loss
from nntrain.optim import make_optimizer
from nntrain.training.step import forward_backward

ROOT = Path(__file__).resolve().parents[1]

MODELS = {
    "mnist1d_cnn": [
        {"Conv1D": {"filters": 100, "kernel_size": 5, "activation": "relu"}},
        {"Conv1D": {"filters": 100, "kernel_size": 5, "activation": "relu"}},
        {"MaxPooling1D": {"pool_size": 3}},
        {"Conv1D": {"filters": 160, "kernel_size": 5, "activation": "relu"}},
        {"Conv1D": {"filters": 160, "kernel_size": 5, "activation": "relu"}},
        {"GlobalAveragePooling1D": {}},
        {"Dense": {"units": 10, "activation": "softmax"}},
    ],
    "mlp": [
        {"Flatten": {}},
        {"Dense": {"units": 256, "activation": "relu"}},
        {"Dense": {"units": 256, "activation": "relu"}},
        {"Dense": {"units": 10, "activation": "softmax"}},
    ],
    "gru": [
        {"GRU": {"units": 64}},
        {"Dense": {"units": 10, "activation": "softmax"}},
    ],
    "lstm": [
        {"LSTM": {"units": 64}},
        {"Dense": {"units": 10, "activation": "softmax"}},
    ],
}


def torch_model(name, torch):
    nn = torch.nn

    class Last(nn.Module):   # recurrent output at the last step
        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def forward(self, x):
            return self.rnn(x)[0][:, -1]

    class ToChannelsFirst(nn.Module):
        def forward(self, x):
            return x.transpose(1, 2)

    if name == "mnist1d_cnn":
        return nn.Sequential(
            ToChannelsFirst(), nn.Conv1d(1, 100, 5), nn.ReLU(), nn.Conv1d(100, 100, 5), nn.ReLU(),
            nn.MaxPool1d(3), nn.Conv1d(100, 160, 5), nn.ReLU(), nn.Conv1d(160, 160, 5), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(160, 10))
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 256),
                             nn.ReLU(), nn.Linear(256, 10))
    if name == "gru":
        return nn.Sequential(Last(nn.GRU(1, 64, batch_first=True)), nn.Linear(64, 10))
    return nn.Sequential(Last(nn.LSTM(1, 64, batch_first=True)), nn.Linear(64, 10))


def batches(n, batch_size, epochs, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.permutation(n)[i:i + batch_size] for i in range(0, n, batch_size)]
            for _ in range(epochs)]


def bench_nntrain(name, x, y, xt, order, infer_reps):
    model = build_model({"input_shape": [40, 1], "layers": MODELS[name]},
                        rng=np.random.default_rng(0))
    loss, opt = get_loss("sparse_categorical_crossentropy"), make_optimizer("adam")
    weights = model.trainable_weights()
    times = []
    for epoch in order:
        start = time.perf_counter()
        for idx in epoch:
            forward_backward(model, loss, [x[idx]], y[idx])
            opt.apply(weights, model.gradients())
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(infer_reps):
        model.predict([xt], batch_size=256)
    infer = (time.perf_counter() - start) / infer_reps
    acc = float((model.predict([xt]).argmax(-1) == YT).mean())
    return min(times), infer, acc


def bench_torch(name, x, y, xt, order, infer_reps, torch):
    torch.manual_seed(0)
    model = torch_model(name, torch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    lossf = torch.nn.CrossEntropyLoss()
    xs, ys, xts = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(xt)
    times = []
    for epoch in order:
        start = time.perf_counter()
        for idx in epoch:
            i = torch.from_numpy(idx)
            opt.zero_grad(set_to_none=True)
            lossf(model(xs[i]), ys[i]).backward()
            opt.step()
        times.append(time.perf_counter() - start)
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(infer_reps):
            torch.cat([model(xts[i:i + 256]) for i in range(0, len(xts), 256)])
        infer = (time.perf_counter() - start) / infer_reps
        acc = float((model(xts).argmax(-1).numpy() == YT).mean())
    return min(times), infer, acc


def main():
    global YT
    import torch
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    parser.add_argument("--only", choices=sorted(MODELS), default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = np.load(ROOT / "data" / "mnist1d.npz")
    mean, std = data["x_train"].mean(), data["x_train"].std()
    x = ((data["x_train"] - mean) / std).astype(np.float32)[..., None]
    xt = ((data["x_test"] - mean) / std).astype(np.float32)[..., None]
    y = data["y_train"].astype(np.int64)
    YT = data["y_test"]
    order = batches(len(x), 32, args.epochs)
    print(f"MNIST-1D, {len(x)} samples, batch 32, Adam; best of {args.epochs} epochs; "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads; numpy "
          f"{np.__version__}")
    print(f"{'model':<12} {'nntrain s/epoch':>16} {'torch s/epoch':>14} {'ratio':>6}   "
          f"{'nntrain ms/infer':>16} {'torch ms/infer':>15} {'ratio':>6}")
    for name in [args.only] if args.only else MODELS:
        nt, ni, na = bench_nntrain(name, x, y, xt, order, 5)
        tt, ti, ta = bench_torch(name, x, y, xt, order, 5, torch)
        print(f"{name:<12} {nt:16.3f} {tt:14.3f} {nt / tt:6.2f}   {ni * 1e3:16.1f} "
              f"{ti * 1e3:15.1f} {ni / ti:6.2f}   (test acc after {args.epochs} epochs: "
              f"nntrain {na:.3f}, torch {ta:.3f})")


YT = None

if __name__ == "__main__":
    main()
