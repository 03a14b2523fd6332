"""A weighted fit in nntrain vs the same fit in Keras 3.15 (torch backend): same initial weights,
SGD, no shuffling; class_weight (softmax + sparse CE) and sample_weight (sigmoid + BCE, with
weighted validation data), compared epoch by epoch (loss, metrics) and in the final weights."""
import os; os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, keras, nntrain

rng = np.random.default_rng(0)
x = rng.standard_normal((40, 5)).astype("float32")
xv = rng.standard_normal((24, 5)).astype("float32")

def compare(label, units, act, loss, metrics_k, metrics_n, wmetrics_k, wmetrics_n, y, yv, **fit_args):
    keras.utils.set_random_seed(1)
    km = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6, activation="tanh"),
                           keras.layers.Dense(units, activation=act)])
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=metrics_k, weighted_metrics=wmetrics_k)
    init = [w.copy() for w in km.get_weights()]
    cfg = {"seed": 0, "model": {"input_shape": [5], "layers": [
        {"Dense": {"units": 6, "activation": "tanh"}}, {"Dense": {"units": units, "activation": act}}]},
        "compile": {"optimizer": {"name": "sgd", "learning_rate": 0.1}, "loss": loss, "metrics": metrics_n, "weighted_metrics": wmetrics_n}}
    nm = nntrain.Model.from_config(cfg)
    nm.set_weights(init)
    vd_k = (xv, yv) + ((fit_args["val_w"],) if "val_w" in fit_args else ())
    kw = {k: v for k, v in fit_args.items() if k != "val_w"}
    hk = km.fit(x, y, epochs=3, batch_size=8, shuffle=False, validation_data=vd_k, verbose=0, **kw).history
    hn = nm.fit(x, y, epochs=3, batch_size=8, shuffle=False, validation_data=vd_k, verbose=0, **kw).history
    worst = 0.0
    def names(ms): return [m if isinstance(m, str) else getattr(m, "name", None) or next(iter(m.values()))["name"] for m in ms]
    kn = ["loss"] + names(metrics_k) + ["weighted_" + n if n in names(metrics_k) else n for n in names(wmetrics_k)]
    nn = ["loss"] + names(metrics_n) + ["weighted_" + n if n in names(metrics_n) else n for n in names(wmetrics_n)]
    for kname, nname in zip(kn, nn):
        for prefix in ("", "val_"):
            a, b = np.array(hk[prefix + kname]), np.array(hn[prefix + nname])
            d = np.max(np.abs(a - b)); worst = max(worst, d)
            print(f"  {label}: {prefix + nname:18s} keras {a.round(6).tolist()} nntrain {b.round(6).tolist()} max |diff| {d:.1e}")
    dw = max(np.max(np.abs(a - b)) for a, b in zip(km.get_weights(), nm.get_weights()))
    print(f"  {label}: final weights max |diff| {dw:.1e}; history max |diff| {worst:.1e}")

y3 = rng.integers(0, 3, 40); yv3 = rng.integers(0, 3, 24)
compare("class_weight", 3, "softmax", "sparse_categorical_crossentropy", ["accuracy"], ["accuracy"], ["accuracy"], ["accuracy"],
        y3, yv3, class_weight={0: 0.5, 1: 2.0, 2: 1.0})
yb = rng.integers(0, 2, (40, 1)).astype("float32"); yvb = rng.integers(0, 2, (24, 1)).astype("float32")
sw = rng.uniform(0, 3, 40).astype("float32"); svw = rng.uniform(0, 3, 24).astype("float32")
compare("sample_weight", 1, "sigmoid", "binary_crossentropy",
        [keras.metrics.AUC(name="AUC"), keras.metrics.Precision(name="Precision"), keras.metrics.Recall(name="Recall"), "binary_accuracy"],
        ["AUC", "Precision", "Recall", "binary_accuracy"],
        [keras.metrics.AUC(name="wauc"), keras.metrics.AUC(name="wpr", curve="PR"), keras.metrics.Precision(name="wprecision"), "binary_accuracy"],
        [{"AUC": {"name": "wauc"}}, {"AUC": {"name": "wpr", "curve": "PR"}}, {"Precision": {"name": "wprecision"}}, "binary_accuracy"],
        yb, yvb, sample_weight=sw, val_w=svw)
