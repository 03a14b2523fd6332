"""Our new losses vs Keras 3.15 (torch backend), float32: values, weighted values and gradients
(float64 is not comparable: Keras on torch computes some ops in float32 whatever floatx says).
Run: KERAS_BACKEND=torch PYTHONPATH=. python tools/keras_checks/losses.py"""
import os; os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, torch, keras
from nntrain.losses import get_loss

rng = np.random.default_rng(0)
def probs(n, k, extra=()):
    z = rng.standard_normal((n, *extra, k)); e = np.exp(z); return e / e.sum(-1, keepdims=True), z
n, k = 8, 5
p, z = probs(n, k)
ids = rng.integers(0, k, n); onehot = np.eye(k)[ids]
soft_t, _ = probs(n, k)
pois_t = rng.poisson(2.0, (n, k)).astype(float); pois_p = rng.uniform(0.1, 4, (n, k))
bin_t = rng.integers(0, 2, (n, k)).astype(float); pm_t = 2 * bin_t - 1
score = rng.standard_normal((n, k)) * 1.5
reg_t = rng.standard_normal((n, k)); reg_p = reg_t + rng.standard_normal((n, k)) * 2
seq_p, seq_z = probs(3, k, (4,)); seq_t = np.eye(k)[rng.integers(0, k, (3, 4))]
CASES = [
  ("kl_divergence", keras.losses.KLDivergence(), {}, soft_t, p),
  ("kl_divergence onehot", keras.losses.KLDivergence(), {}, onehot, p),
  ("poisson", keras.losses.Poisson(), {}, pois_t, pois_p),
  ("hinge 0/1", keras.losses.Hinge(), {}, bin_t, score),
  ("hinge -1/1", keras.losses.Hinge(), {}, pm_t, score),
  ("squared_hinge 0/1", keras.losses.SquaredHinge(), {}, bin_t, score),
  ("log_cosh", keras.losses.LogCosh(), {}, reg_t, reg_p),
  ("cosine_similarity", keras.losses.CosineSimilarity(), {}, reg_t, reg_p),
  ("cosine_similarity axis=1 seq", keras.losses.CosineSimilarity(axis=1), {"axis": 1}, seq_t, seq_z),
  ("focal", keras.losses.CategoricalFocalCrossentropy(), {}, onehot, p),
  ("focal logits smooth gamma=1.5 alpha list", keras.losses.CategoricalFocalCrossentropy(
      alpha=[0.1, 0.2, 0.3, 0.2, 0.2], gamma=1.5, from_logits=True, label_smoothing=0.1),
   {"alpha": [0.1, 0.2, 0.3, 0.2, 0.2], "gamma": 1.5, "from_logits": True, "label_smoothing": 0.1}, onehot, z),
  ("focal seq", keras.losses.CategoricalFocalCrossentropy(), {}, seq_t, seq_p),
]
NAMES = {"kl_divergence": "kl_divergence", "poisson": "poisson", "hinge": "hinge", "squared_hinge": "squared_hinge",
         "log_cosh": "log_cosh", "cosine_similarity": "cosine_similarity", "focal": "categorical_focal_crossentropy"}
worst = {}
def _pos(loss, p):
    return p.size // p.shape[getattr(loss, "axis", -1)]
for label, kloss, args, t, pr in CASES:
    name = NAMES[label.split()[0]]
    ours = get_loss({"name": name, **args})
    for dtype in ("float32",):
        keras.backend.set_floatx(dtype)
        keras.backend.set_floatx(dtype)
        kl = kloss
        pt = torch.tensor(pr.astype(dtype), requires_grad=True)
        v = kl(torch.tensor(t.astype(dtype)), pt); v.backward()
        kv, kg = float(v.detach()), pt.grad.numpy()
        w = rng.uniform(0, 2, t.shape[0])
        pt2 = torch.tensor(pr.astype(dtype), requires_grad=True)
        wk = np.broadcast_to(w.reshape((-1,) + (1,) * (t.ndim - 2)), t.shape[:1] + (t.shape[1:-1] if "axis" not in args else t.shape[2:]))
        kvw = float(kl(torch.tensor(t.astype(dtype)), pt2, sample_weight=torch.tensor(wk.astype(dtype))).detach())
        p_ = pr.astype(dtype)
        ov, og = ours(t, p_), ours.gradient(t, p_)
        ovw = ours(t, p_, w.astype(dtype))
        dv = abs(ov - kv) / max(abs(kv), 1e-12); dg = np.max(np.abs(og - kg)) / max(np.max(np.abs(kg)), 1e-12)
        dw = abs(ovw - kvw) / max(abs(kvw), 1e-12)
        # float64 at the function level (Keras's reduction returns float32 on torch): per-position values
        pt3 = torch.tensor(pr.astype(dtype), requires_grad=True)
        per = kl.call(torch.tensor(t.astype(dtype)), pt3); per.sum().backward()
        dper = np.max(np.abs(ours.per_sample(t, p_) - per.detach().numpy())) / np.max(np.abs(per.detach().numpy()))
        dgs = np.max(np.abs(og * _pos(ours, p_) - pt3.grad.numpy())) / np.max(np.abs(pt3.grad.numpy()))
        print(f"   per-position values max rel {dper:.1e}, their gradient max rel {dgs:.1e}")
        worst[dtype + " per-position"] = max(worst.get(dtype + " per-position", 0), dper, dgs)
        print(f"{label:45s} {dtype}: value {ov:+.7g} keras {kv:+.7g} rel {dv:.1e}; weighted rel {dw:.1e}; grad max rel {dg:.1e}")
        worst[dtype] = max(worst.get(dtype, 0), dv, dg, dw)
print("worst relative difference:", worst)
