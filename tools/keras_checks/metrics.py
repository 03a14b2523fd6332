"""Our stateful metrics vs Keras 3.15 (torch backend), accumulated over several batches with and
without sample weights."""
import os; os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, keras
from nntrain.metrics import get_metric
from nntrain.losses import get_loss

rng = np.random.default_rng(1)
def batches(make, nb=4):
    return [make(16 + 3 * i) for i in range(nb)]
def binary(n):
    t = rng.integers(0, 2, (n, 1)).astype("float32")
    p = np.clip(0.35 * t + rng.uniform(0, 0.65, (n, 1)), 0, 1).astype("float32")
    p[:2] = [[0.5], [1.0]]            # edges: exactly on a threshold and at 1
    return t, p
def quantized(n):   # outputs on the 1/199 grid: the bucket edges
    t = rng.integers(0, 2, (n, 1)).astype("float32")
    p = (rng.integers(0, 200, (n, 1)) / 199).astype("float32")
    return t, p
def multiclass(n, k=4):
    ids = rng.integers(0, k, n); z = rng.standard_normal((n, k)) + 1.5 * np.eye(k)[ids]
    e = np.exp(z); return np.eye(k, dtype="float32")[ids], (e / e.sum(-1, keepdims=True)).astype("float32")
def multilabel(n, k=3):
    t = rng.integers(0, 2, (n, k)).astype("float32")
    return t, np.clip(0.3 * t + rng.uniform(0, 0.7, (n, k)), 0, 1).astype("float32")
def regression(n, k=3):
    t = rng.standard_normal((n, k)).astype("float32"); return t, (t + rng.standard_normal((n, k))).astype("float32")

CASES = [
  ("Precision", {}, keras.metrics.Precision(), binary),
  ("Precision thr0.3", {"thresholds": 0.3}, keras.metrics.Precision(thresholds=0.3), binary),
  ("Precision top_k=2", {"top_k": 2}, keras.metrics.Precision(top_k=2), multiclass),
  ("Precision class_id=1", {"class_id": 1}, keras.metrics.Precision(class_id=1), multiclass),
  ("Recall", {}, keras.metrics.Recall(), binary),
  ("Recall class_id=2 thr0.2", {"class_id": 2, "thresholds": 0.2}, keras.metrics.Recall(class_id=2, thresholds=0.2), multiclass),
  ("AUC", {}, keras.metrics.AUC(), binary),
  ("AUC quantized", {}, keras.metrics.AUC(), quantized),
  ("AUC PR", {"curve": "PR"}, keras.metrics.AUC(curve="PR"), binary),
  ("AUC PR quantized", {"curve": "PR"}, keras.metrics.AUC(curve="PR"), quantized),
  ("AUC ROC minoring", {"summation_method": "minoring"}, keras.metrics.AUC(summation_method="minoring"), binary),
  ("AUC PR majoring", {"curve": "PR", "summation_method": "majoring"}, keras.metrics.AUC(curve="PR", summation_method="majoring"), binary),
  ("AUC PRGAIN", {"curve": "PRGAIN"}, keras.metrics.AUC(curve="PRGAIN"), binary),
  ("AUC num_thresholds=7", {"num_thresholds": 7}, keras.metrics.AUC(num_thresholds=7), binary),
  ("AUC thresholds list (uneven)", {"thresholds": [0.1, 0.25, 0.7]}, keras.metrics.AUC(thresholds=[0.1, 0.25, 0.7]), binary),
  ("AUC multiclass flattened", {}, keras.metrics.AUC(), multiclass),
  ("AUC multi_label", {"multi_label": True}, keras.metrics.AUC(multi_label=True), multilabel),
  ("AUC multi_label PR label_weights", {"multi_label": True, "curve": "PR", "label_weights": [1, 2, 0.5]},
   keras.metrics.AUC(multi_label=True, curve="PR", label_weights=[1, 2, 0.5]), multilabel),
  ("AUC label_weights", {"label_weights": [1, 2, 0.5]}, keras.metrics.AUC(label_weights=[1, 2, 0.5]), multilabel),
  ("F1Score macro", {"average": "macro"}, keras.metrics.F1Score(average="macro"), multiclass),
  ("F1Score micro thr0.4", {"average": "micro", "threshold": 0.4}, keras.metrics.F1Score(average="micro", threshold=0.4), multilabel),
  ("F1Score weighted", {"average": "weighted"}, keras.metrics.F1Score(average="weighted"), multiclass),
  ("FBetaScore beta=2 macro", {"average": "macro", "beta": 2.0}, keras.metrics.FBetaScore(average="macro", beta=2.0), multiclass),
  ("RootMeanSquaredError", {}, keras.metrics.RootMeanSquaredError(), regression),
  ("MeanSquaredError", {}, keras.metrics.MeanSquaredError(), regression),
  ("MeanAbsoluteError", {}, keras.metrics.MeanAbsoluteError(), regression),
  ("CosineSimilarity", {}, keras.metrics.CosineSimilarity(), regression),
]
worst = 0.0
for label, args, km, make in CASES:
    data = batches(make)
    for weighted in (False, True):
        km.reset_state()
        ours = get_metric({"name": label.split()[0], **args})
        ours.reset()
        for t, p in data:
            w = rng.uniform(0, 2, len(t)).astype("float32") if weighted else None
            km.update_state(t, p, sample_weight=w)
            ours.update(t, p, w)
        kv, ov = float(km.result()), ours.result()
        d = abs(kv - ov)
        worst = max(worst, d)
        print(f"{label:36s} {'weighted' if weighted else '        '}: ours {ov:.7f} keras {kv:.7f} |diff| {d:.1e}")
print(f"max |difference| {worst:.2e}")
