"""Training and inference speed of nntrain against PyTorch (CPU) on the same models and data.

Run outside the test suite, on an otherwise idle machine (the lead's numbers come from one
such run; docs/benchmarks.md holds them):

    python benchmarks/bench_vs_torch.py --threads 2 [--epochs E] [--batch-sizes 32 128]
                                        [--only NAME] [--json | --markdown]
    python benchmarks/bench_vs_torch.py --render result.json [--markdown]

Both engines get the same number of threads (PyTorch through torch.set_num_threads, nntrain
through nntrain.threads: its BLAS pool and its own threads) and train the same models on the
same batches in the same order (Adam). Each epoch of one engine is followed by the same epoch
of the other, and each inference pass likewise, so a change in machine load hits both; the
best of the runs counts.

Models: the seed Conv1D net, an MLP, GRU(64) and LSTM(64) on MNIST-1D (40 steps, 1 channel,
10 classes), and the seed Conv1D net on HAR shapes (configs/har_conv1d.yaml: 80 steps x 3
axes, 6 classes; random data, as no HAR data is shipped). Inference runs over 1000 samples in
batches of nntrain's default inference batch for the model, the same batches for both.

Printed per batch size: seconds per training epoch, milliseconds per inference pass, the
ratio nntrain / torch (below 1: nntrain is faster), and for the conv models the achieved
GFLOP/s of training (3 x forward FLOPs per sample: forward, input gradient and weight gradient)
as a fraction of the float32 matrix-product peak the script measures with the same threads
(before and after the models: the better counts). ``--json`` prints all of it as one JSON
object on stdout instead (progress goes to stderr either way).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nntrain.builder import build_model  # noqa: E402
from nntrain.losses import get_loss  # noqa: E402
from nntrain.optim import make_optimizer  # noqa: E402
from nntrain.training.step import forward_backward  # noqa: E402

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
CONV = ("mnist1d_cnn", "har_conv1d")
ORDER = ["mnist1d_cnn", "har_conv1d", "mlp", "gru", "lstm"]


def model_config(name: str) -> dict:
    if name == "har_conv1d":
        return yaml.safe_load((ROOT / "configs" / "har_conv1d.yaml").read_text())["model"]
    return {"input_shape": [40, 1], "layers": MODELS[name]}


def torch_model(name, torch):
    nn = torch.nn

    class Last(nn.Module):   # recurrent output at the last step
        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def forward(self, x):
            return self.rnn(x)[0][:, -1]

    class ToChannelsFirst(nn.Module):
        def __init__(self, steps, channels):
            super().__init__()
            self.shape = (steps, channels)

        def forward(self, x):
            return x.reshape(len(x), *self.shape).transpose(1, 2)

    def seed_cnn(steps, channels, k, classes, dropout):
        return nn.Sequential(
            ToChannelsFirst(steps, channels), nn.Conv1d(channels, 100, k), nn.ReLU(),
            nn.Conv1d(100, 100, k), nn.ReLU(), nn.MaxPool1d(3), nn.Conv1d(100, 160, k),
            nn.ReLU(), nn.Conv1d(160, 160, k), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
            *([nn.Dropout(dropout)] if dropout else []), nn.Linear(160, classes))

    if name == "mnist1d_cnn":
        return seed_cnn(40, 1, 5, 10, 0.0)
    if name == "har_conv1d":
        return seed_cnn(80, 3, 10, 6, 0.5)
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 256),
                             nn.ReLU(), nn.Linear(256, 10))
    if name == "gru":
        return nn.Sequential(Last(nn.GRU(1, 64, batch_first=True)), nn.Linear(64, 10))
    return nn.Sequential(Last(nn.LSTM(1, 64, batch_first=True)), nn.Linear(64, 10))


def datasets():
    """MNIST-1D (standardized, (n, 40, 1)) and HAR-shaped random data ((n, 240), 6 classes)."""
    data = np.load(ROOT / "data" / "mnist1d.npz")
    mean, std = data["x_train"].mean(), data["x_train"].std()
    mnist = {"x": ((data["x_train"] - mean) / std).astype(np.float32)[..., None],
             "y": data["y_train"].astype(np.int64),
             "xt": ((data["x_test"] - mean) / std).astype(np.float32)[..., None],
             "yt": data["y_test"].astype(np.int64)}
    rng = np.random.default_rng(0)
    har = {"x": rng.standard_normal((len(mnist["x"]), 240)).astype(np.float32),
           "y": rng.integers(0, 6, len(mnist["x"])).astype(np.int64),
           "xt": rng.standard_normal((1000, 240)).astype(np.float32), "yt": None}
    return {name: har if name == "har_conv1d" else mnist for name in ORDER}


def matmul_peak(reps: int = 5) -> dict[str, float]:
    """float32 GFLOP/s of NumPy's matrix product on a large square and a conv-sized shape."""
    rng = np.random.default_rng(0)
    out = {}
    for m, k, n in [(2048, 2048, 2048), (1152, 500, 160)]:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        inner = max(1, int(2e9 // (2 * m * k * n)))
        a @ b
        best = min(_time(lambda: [a @ b for _ in range(inner)]) for _ in range(reps)) / inner
        out[f"{m}x{k}x{n}"] = 2 * m * k * n / best / 1e9
    return out


def thread_limit(n: int):
    """nntrain's own limit (its BLAS pool and its threads); BLAS's alone on older checkouts."""
    try:
        from nntrain import threads
    except ImportError:
        return threadpool_limits(limits=n, user_api="blas")
    return threads.limit(n)


def inference_batch(model) -> int:
    """nntrain's default inference batch (256 before there was one: older checkouts)."""
    return model.inference_batch_size() if hasattr(model, "inference_batch_size") else 256


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Ours:
    def __init__(self, name, data):
        self.model = build_model(model_config(name), rng=np.random.default_rng(0))
        self.loss = get_loss("sparse_categorical_crossentropy")
        self.opt = make_optimizer("adam")
        self.model.set_rng(np.random.default_rng(1))
        self.weights = self.model.trainable_weights()
        self.data = data

    def epoch(self, batches):
        x, y = self.data["x"], self.data["y"]
        for idx in batches:
            forward_backward(self.model, self.loss, [x[idx]], y[idx])
            self.opt.apply(self.weights, self.model.gradients())

    def infer(self, batch):
        return self.model.predict([self.data["xt"]], batch_size=batch)


class Theirs:
    def __init__(self, name, data, torch):
        torch.manual_seed(0)
        self.torch = torch
        self.model = torch_model(name, torch)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-7)
        self.lossf = torch.nn.CrossEntropyLoss()
        self.x, self.y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
        self.xt = torch.from_numpy(data["xt"])

    def epoch(self, batches):
        self.model.train()
        for idx in batches:
            i = self.torch.from_numpy(idx)
            self.opt.zero_grad(set_to_none=True)
            self.lossf(self.model(self.x[i]), self.y[i]).backward()
            self.opt.step()

    def infer(self, batch):
        """Class probabilities, as nntrain's predict returns them (the model ends in logits
        for CrossEntropyLoss in training; the softmax is part of the model's output)."""
        self.model.eval()
        with self.torch.no_grad():
            return self.torch.cat([self.torch.softmax(self.model(self.xt[i:i + batch]), -1)
                                   for i in range(0, len(self.xt), batch)]).numpy()


def bench(name, data, batch_size, epochs, infer_reps, torch) -> dict:
    ours, theirs = Ours(name, data), Theirs(name, data, torch)
    rng = np.random.default_rng(0)
    n = len(data["x"])
    train = {"nntrain": [], "torch": []}
    for _ in range(epochs):          # the same batches for both, one epoch each in turn
        order = rng.permutation(n)
        batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
        train["nntrain"].append(_time(lambda: ours.epoch(batches)))
        train["torch"].append(_time(lambda: theirs.epoch(batches)))
    batch = inference_batch(ours.model)
    infer = {"nntrain": [], "torch": []}
    ours.infer(batch), theirs.infer(batch)
    for _ in range(infer_reps):
        infer["nntrain"].append(_time(lambda: ours.infer(batch)))
        infer["torch"].append(_time(lambda: theirs.infer(batch)))
    row = {"model": name, "batch_size": batch_size, "inference_batch": batch,
           "train_s_per_epoch": {k: min(v) for k, v in train.items()},
           "infer_ms": {k: 1e3 * min(v) for k, v in infer.items()}}
    row["train_ratio"] = row["train_s_per_epoch"]["nntrain"] / row["train_s_per_epoch"]["torch"]
    row["infer_ratio"] = row["infer_ms"]["nntrain"] / row["infer_ms"]["torch"]
    flops = sum(nd.layer.flops(nd.input_shape) for nd in ours.model.nodes)
    row["forward_mflop_per_sample"] = flops / 1e6
    if name in CONV:
        row["train_gflops"] = {k: 3 * flops * n / t / 1e9
                               for k, t in row["train_s_per_epoch"].items()}
        row["infer_gflops"] = {k: flops * len(data["xt"]) / (ms / 1e3) / 1e9
                               for k, ms in row["infer_ms"].items()}
    if data["yt"] is not None:
        row["test_accuracy"] = {
            "nntrain": float((ours.infer(batch).argmax(-1) == data["yt"]).mean()),
            "torch": float((theirs.infer(batch).argmax(-1) == data["yt"]).mean())}
    return row


def machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = [f"{lib.get('internal_api')} {lib.get('version')} ({lib.get('architecture')})"
            for lib in threadpool_info() if lib["user_api"] == "blas"]
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "blas": blas,
            "load_average": list(os.getloadavg())}


def table(result: dict) -> str:
    m, s = result["machine"], result["settings"]
    peak = result["matmul_peak_gflops"]
    lines = [f"{m['cpu']}, {m['cores']} cores; {m['platform']}; numpy {m['numpy']} "
             f"({', '.join(m['blas'])}), torch {s['torch']}; {s['threads']} threads each"
             f"{'' if s['recurrent_shards'] else ' (recurrent batches not sharded)'}; "
             f"load average at start {m['load_average'][0]:.2f}",
             f"float32 matmul peak {max(peak.values()):.0f} GFLOP/s ("
             + ", ".join(f"{k}: {v:.0f}" for k, v in peak.items()) + ")",
             f"MNIST-1D: {s['train_samples']} training samples, Adam; best of {s['epochs']} "
             f"epochs and {s['infer_reps']} inference passes over 1000 samples"]
    for bs in s["batch_sizes"]:
        lines += ["", f"batch {bs}",
                  f"{'model':<12} {'nntrain s/ep':>12} {'torch s/ep':>10} {'ratio':>6}   "
                  f"{'infer batch':>11} {'nntrain ms':>10} {'torch ms':>9} {'ratio':>6}   "
                  f"{'train GFLOP/s (of peak)':>23}   test acc nntrain / torch"]
        for r in (r for r in result["results"] if r["batch_size"] == bs):
            t, i = r["train_s_per_epoch"], r["infer_ms"]
            gf = r.get("train_gflops")
            conv = (f"{gf['nntrain']:6.1f} ({gf['nntrain'] / max(peak.values()):4.0%}) vs "
                    f"{gf['torch']:5.1f}") if gf else ""
            acc = r.get("test_accuracy")
            acc = f"{acc['nntrain']:.3f} / {acc['torch']:.3f}" if acc else "(random data)"
            lines.append(f"{r['model']:<12} {t['nntrain']:12.3f} {t['torch']:10.3f} "
                         f"{r['train_ratio']:6.2f}   {r['inference_batch']:11d} "
                         f"{i['nntrain']:10.1f} {i['torch']:9.1f} {r['infer_ratio']:6.2f}   "
                         f"{conv:>23}   {acc}")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The results as Markdown tables (for docs/benchmarks.md)."""
    m, s = result["machine"], result["settings"]
    peak = max(result["matmul_peak_gflops"].values())
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; Python {m['python']}, "
             f"NumPy {m['numpy']} ({', '.join(m['blas'])}), PyTorch {s['torch']}; "
             f"{s['threads']} threads for each engine; load average at the start "
             f"{m['load_average'][0]:.2f}. float32 matmul peak: {peak:.0f} GFLOP/s "
             "(" + ", ".join(f"{k}: {v:.0f}" for k, v in result["matmul_peak_gflops"].items())
             + "). Best of " f"{s['epochs']} epochs and {s['infer_reps']} inference passes."]
    for bs in s["batch_sizes"]:
        lines += ["", f"Batch {bs}:", "",
                  "| model | train s/epoch nntrain | torch | ratio | inference batch | "
                  "inference ms nntrain | torch | ratio | train GFLOP/s nntrain (of peak) | "
                  "torch |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in (r for r in result["results"] if r["batch_size"] == bs):
            t, i, gf = r["train_s_per_epoch"], r["infer_ms"], r.get("train_gflops")
            conv = (f"{gf['nntrain']:.1f} ({gf['nntrain'] / peak:.0%}) | {gf['torch']:.1f}"
                    if gf else "| ")
            lines.append(f"| {r['model']} | {t['nntrain']:.3f} | {t['torch']:.3f} | "
                         f"{r['train_ratio']:.2f} | {r['inference_batch']} | "
                         f"{i['nntrain']:.1f} | {i['torch']:.1f} | {r['infer_ratio']:.2f} | "
                         f"{conv} |")
    return "\n".join(lines)


def main(argv=None):
    import torch
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both engines (default: all cores)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per model (best counts)")
    parser.add_argument("--infer-reps", type=int, default=20,
                        help="inference passes per engine (best counts; an MLP pass takes "
                             "a few ms, so a few passes measure noise)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--only", choices=ORDER, action="append", default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--render", metavar="RESULT.json", default=None,
                        help="print the tables of an earlier --json result and exit")
    parser.add_argument("--no-shards", action="store_true",
                        help="run recurrent batches whole, on one thread (for comparison)")
    args = parser.parse_args(argv)
    if args.render:
        result = json.loads(Path(args.render).read_text())
        print(markdown(result) if args.markdown else table(result))
        return
    if args.no_shards:
        from nntrain import parallel
        parallel.SMALLEST_SHARD = 1 << 30
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    data = datasets()
    with thread_limit(threads):
        result = {"machine": machine(),
                  "settings": {"threads": threads, "epochs": args.epochs,
                               "recurrent_shards": not args.no_shards,
                               "infer_reps": args.infer_reps, "batch_sizes": args.batch_sizes,
                               "train_samples": len(data["mlp"]["x"]), "torch": torch.__version__},
                  "matmul_peak_gflops": matmul_peak(), "results": []}
        for bs in args.batch_sizes:
            for name in args.only or ORDER:
                row = bench(name, data[name], bs, args.epochs, args.infer_reps, torch)
                result["results"].append(row)
                print(f"  done: {name} at batch {bs}", file=sys.stderr)
        # the peak again at the end: the better of the two counts (load may have come or gone)
        for shape, gflops in matmul_peak().items():
            result["matmul_peak_gflops"][shape] = max(result["matmul_peak_gflops"][shape], gflops)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(markdown(result) if args.markdown else table(result))


if __name__ == "__main__":
    main()
