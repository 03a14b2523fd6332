"""What the LayerStats callback costs: the quick-start config trained with and without it,
epoch by epoch in turn (so load that comes and goes hits both), each a fresh one-epoch run in
a temporary directory.

    python benchmarks/layer_stats_overhead.py [--epochs 3] [--every-n-batches N] [--threads 2]

Prints the best epoch time of each and the overhead in percent. Outside the test suite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nntrain  # noqa: E402
from nntrain import threads  # noqa: E402


def epoch_seconds(config: dict, callbacks: list, epochs: int, workdir: Path) -> list[float]:
    cfg = {**config, "fit": {**config["fit"], "epochs": epochs, "callbacks": callbacks}}
    model = nntrain.Model.from_config(cfg)
    return list(model.fit(run_dir=str(workdir), verbose=0).history["seconds"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--every-n-batches", type=int, default=None,
                        help="record every N batches instead of every epoch")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        threads.limit(args.threads)
    import yaml
    config = yaml.safe_load((ROOT / "configs" / "mnist1d_cnn.yaml").read_text())
    config["data"]["path"] = str(ROOT / config["data"]["path"])
    stats = {"LayerStats": ({"every_n_batches": args.every_n_batches}
                            if args.every_n_batches else {"every": 1})}
    times = {"without": [], "with": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.epochs):      # one epoch each in turn, fresh runs of one epoch
            for label, callbacks in (("without", []), ("with", [stats])):
                times[label] += epoch_seconds(config, callbacks, 1,
                                              Path(tmp) / f"{label}-{i}")
    best = {k: min(v) for k, v in times.items()}
    print(f"quick-start config, best of {args.epochs} epochs: without LayerStats "
          f"{best['without']:.3f} s, with {best['with']:.3f} s ({stats}): overhead "
          f"{100 * (best['with'] / best['without'] - 1):+.1f}%")


if __name__ == "__main__":
    main()
