"""Where nntrain's time goes: cProfile of training epochs (or inference passes) of one of the
benchmark models, top entries by own time.

    python benchmarks/profile_model.py MODEL [--batch-size 32] [--epochs 1] [--infer]
                                       [--threads N] [--top 15]

MODEL is one of benchmarks/bench_vs_torch.py's (mnist1d_cnn, har_conv1d, mlp, gru, lstm). One
warm-up epoch (or pass) runs before the profiled ones. NumPy's own calls (ufuncs, matrix
products) count toward the Python function that makes them.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_vs_torch as bench  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=bench.ORDER)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--infer", action="store_true", help="profile inference passes")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    data = bench.datasets()[args.model]
    ours = bench.Ours(args.model, data)
    n = len(data["x"])
    order = np.random.default_rng(0).permutation(n)
    batches = [order[i:i + args.batch_size] for i in range(0, n, args.batch_size)]
    batch = bench.inference_batch(ours.model)
    run = (lambda: ours.infer(batch)) if args.infer else (lambda: ours.epoch(batches))
    with bench.thread_limit(args.threads or len(os.sched_getaffinity(0))):
        run()
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.epochs):
            run()
        profile.disable()
    what = f"inference (batch {batch})" if args.infer else f"training (batch {args.batch_size})"
    print(f"{args.model}: {args.epochs} x {what}")
    pstats.Stats(profile).strip_dirs().sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
