"""Warnings in plain words, each with its likely cure, from the rows of a diagnosis.

Each rule reads the per-layer rows (see `report.layer_rows`) and the limits of
`thresholds.Limits`, and returns `Finding`s: a sentence and a key naming the problem and the
layer (``dead:dense_2``), so a callback can say each problem once per run.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from nntrain.diagnostics import thresholds as th
from nntrain.diagnostics.thresholds import LIMITS, Limits


class Finding(NamedTuple):
    """A warning's sentence, and the problems it reports (``dead:dense_2``, one per layer)."""

    keys: tuple[str, ...]
    text: str


def find_warnings(rows: list[dict], *, output: str, initial: bool = False,
                  clipping: str | None = None, limits: Limits = LIMITS) -> list[Finding]:
    """Every rule on `rows` (model order). `output` is the output layer's name, `initial` whether
    the weights are the initial ones, `clipping` the optimizer's clipping (``clipnorm=1``)."""
    broken = _non_finite(rows)
    if broken:   # everything after a NaN is NaN: the other rules would only repeat it
        return broken
    dead = _dead(rows, limits)
    through = [f for r in rows if (f := _through_time(r, clipping, limits)) is not None]
    explained = {key.partition(":")[2] for f in dead + through for key in f.keys}
    return (dead + _saturated(rows, limits) + _softmax_certain(rows, output, initial, limits)
            + _depth_trend(rows, output, limits, explained)
            + _gradient_trend(rows, limits, explained, bool(dead))
            + through + _update_ratios(rows, clipping, limits))


# -- the rules ----------------------------------------------------------------------------------
def _non_finite(rows):
    bad = next((r for r in rows if not r.get("finite", True)), None)
    if bad is None:
        return []
    return [Finding((f"non_finite:{bad['name']}",),
                    f"{bad['name']}'s outputs or gradients are NaN or infinite: the weights "
                    "diverged — lower the learning rate or set clipnorm")]


def _dead(rows, limits):
    """One finding for the truly dead (relu), one for the inactive (leaky kinds)."""
    found = []
    for truly in (True, False):
        hit = [r for r in rows if r.get("dead_fraction") is not None
               and th.RELU_FAMILY.get(r["activation"]) is truly
               and r["dead_fraction"] > limits.dead_fraction]
        if not hit:
            continue
        what = (_pct(hit[0]["dead_fraction"]) + f" of {hit[0]['name']}'s units are" if len(hit) == 1
                else f"{_names(hit)} have {_pct_range(hit, 'dead_fraction')} of their units")
        text = (f"{what} dead on this batch (never positive, so no gradient reaches them): lower "
                "the learning rate or use LeakyReLU / he_normal" if truly else
                f"{what} never positive on this batch: lower the learning rate")
        found.append(Finding(tuple(f"dead:{r['name']}" for r in hit), text))
    return found


def _saturated(rows, limits):
    """One finding per saturating activation (softmax is the output's: see _softmax_certain)."""
    found = []
    for kind in ("tanh", "softsign", "sigmoid", "hard_sigmoid"):
        hit = [r for r in rows if r["activation"] == kind and r.get("saturated_fraction")
               is not None and r["saturated_fraction"] > limits.saturated_fraction]
        if not hit:
            continue
        bound = "|a| > 0.99" if kind in ("tanh", "softsign") else "a < 0.01 or a > 0.99"
        what = (f"{_pct(hit[0]['saturated_fraction'])} of {hit[0]['name']}'s {kind} outputs are"
                if len(hit) == 1 else
                f"{_names(hit)} have {_pct_range(hit, 'saturated_fraction')} of their {kind} "
                "outputs")
        found.append(Finding(tuple(f"saturated:{r['name']}" for r in hit),
                             f"{what} saturated ({bound}), where the gradient is ~0: the weights "
                             "are too large — use glorot_normal, or lower the learning rate"))
    return found


def _softmax_certain(rows, output, initial, limits):
    out = next((r for r in rows if r["name"] == output), None)
    if (not initial or out is None or out["activation"] != "softmax"
            or (out["saturated_fraction"] or 0) <= limits.softmax_certain_at_init):
        return []
    return [Finding((f"certain:{output}",),
                    f"at initialization {output} is already certain (p > 0.99) for "
                    f"{_pct(out['saturated_fraction'])} of the samples: its inputs are too large "
                    "— use smaller initial weights (glorot_normal, he_normal)")]


def _hidden(rows, output):
    """Rows that are the output of a hidden activation (not linear, not the model output)."""
    return [r for r in rows if r["activation"] not in (None, "linear") and r["name"] != output
            and r["std"] is not None]


def _cure_for(kind):
    if kind in th.RELU_FAMILY:
        return "use he_normal for relu"
    if kind in ("tanh", "sigmoid", "hard_sigmoid", "softsign"):
        return f"use glorot_normal for {kind}"
    return "use glorot_normal for tanh, he_normal for relu"


def _depth_trend(rows, output, limits, explained):
    """The last hidden activation's spread against the first's (unless the last is dead or
    exploding through time: that finding says it better)."""
    hidden = _hidden(rows, output)
    if len(hidden) < 2 or hidden[-1]["name"] in explained:
        return []
    first, last = hidden[0], hidden[-1]
    a, b = first["std"], last["std"]
    if b < limits.collapsed_std or (a > 0 and b / a < 1 / limits.activation_shrink):
        versus = f", {_fraction(b / a)} of {first['name']}'s" if a > 0 and b > 0 else ""
        return [Finding((f"vanish:{last['name']}",),
                        f"{last['name']}'s outputs have std {b:.2g}{versus}: activations vanish "
                        f"with depth — {_cure_for(last['activation'])}")]
    bounded = last["activation"] in th.BOUNDED_RANGE
    if not bounded and a > 0 and b / a > limits.activation_growth:
        return [Finding((f"explode:{last['name']}",),
                        f"{last['name']}'s outputs have std {b:.2g}, {_factor(b / a)} "
                        f"{first['name']}'s: activations grow with depth — "
                        f"{_cure_for(last['activation'])}")]
    return []


def _gradient_trend(rows, limits, explained, any_dead):
    """The last weighted layer's gradient norm against the first's. Dead units block the
    gradient (then that is the cure); a recurrent first layer exploding through time is said by
    its own finding."""
    weighted = [r for r in rows if r["grad_norm"] is not None]
    if len(weighted) < 2:
        return []
    first, last = weighted[0], weighted[-1]
    a, b = first["grad_norm"], last["grad_norm"]
    between = rows[rows.index(first):rows.index(last)]
    kinds = {r["activation"] for r in between} - {None, "linear"}
    kind = kinds.pop() if len(kinds) == 1 else None
    via = f" ({kind})" if kind else ""
    if a == 0 or b / a > limits.gradient_fall:
        fall = "to 0" if a == 0 else f"{_factor(b / a)}"
        if any_dead:
            cure = "the dead units block it"
        elif kind == "sigmoid":
            cure = "use relu (he_normal) or tanh instead of sigmoid in hidden layers"
        else:
            cure = f"{_cure_for(kind)}, or add BatchNormalization"
        return [Finding((f"gradient_falls:{first['name']}",),
                        f"gradient norm falls {fall} from {last['name']} to {first['name']}{via}: "
                        f"lower layers barely learn — {cure}")]
    if b > 0 and a / b > limits.gradient_rise and first["name"] not in explained:
        return [Finding((f"gradient_grows:{first['name']}",),
                        f"gradient norm grows {_factor(a / b)} from {last['name']} to "
                        f"{first['name']}{via}: gradients explode toward the input — use smaller "
                        "initial weights or set clipnorm")]
    return []


def _through_time(r, clipping, limits):
    tt = r.get("through_time")
    if not tt or tt["ratio"] is None:
        return None
    name, steps, ratio = r["name"], tt["steps"], tt["ratio"]
    if ratio > limits.through_time_growth:
        cure = (f"{clipping} bounds each update, but the early steps dominate the gradient — "
                "use LSTM/GRU or a smaller recurrent_initializer" if clipping
                else "set clipnorm or use LSTM/GRU")
        return Finding((f"through_time_grows:{name}",),
                       f"{name} gradient grows {_factor(ratio)} through {steps} steps: {cure}")
    if r["type"] == "SimpleRNN" and ratio < 1 / limits.through_time_shrink:
        return Finding((f"through_time_fades:{name}",),
                       f"{name} gradient fades {_factor(1 / ratio)} through {steps} steps: the "
                       "first steps barely influence the output — use LSTM/GRU")
    return None


def _update_ratios(rows, clipping, limits):
    found = []
    high = [r for r in rows if (r["update_ratio"] or 0) > limits.update_ratio_high]
    if high:
        worst = max(r["update_ratio"] for r in high)
        cure = "lower the learning rate" + ("" if clipping else " or set clipnorm")
        found.append(Finding(tuple(f"update_high:{r['name']}" for r in high),
                             f"one optimizer step would change the weights of {_names(high)} by "
                             f"up to {worst:.2g} of their norm (healthy: ~1e-3): {cure}"))
    low = [r for r in rows if r["update_ratio"] is not None
           and r["update_ratio"] < limits.update_ratio_low]
    if low:
        worst = min(r["update_ratio"] for r in low)
        found.append(Finding(tuple(f"update_low:{r['name']}" for r in low),
                             f"one optimizer step would change the weights of {_names(low)} by "
                             f"as little as {worst:.2g} of their norm (healthy: ~1e-3): they "
                             "barely learn — raise the learning rate or fix the gradient flow"))
    return found


# -- wording ------------------------------------------------------------------------------------
def _pct(f: float) -> str:
    return f"{100 * f:.0f}%"


def _factor(x: float) -> str:
    """300 → '300×', 12345 → '1e4×', 2.5 → '2.5×'."""
    if x < 1000:
        return f"{x:.2g}×" if x < 10 else f"{x:.0f}×"
    exponent = math.floor(math.log10(x))
    mantissa = round(x / 10 ** exponent)
    if mantissa == 10:
        mantissa, exponent = 1, exponent + 1
    return f"{mantissa}e{exponent}×"


def _fraction(x: float) -> str:
    """0.0005 → '1/2000' (what fraction of another value something is)."""
    if x <= 0:
        return "0×"
    inverse = 1 / x
    return f"1/{inverse:.0f}" if inverse < 1e4 else f"1/{_factor(inverse)[:-1]}"


def _pct_range(rows, key) -> str:
    values = [r[key] for r in rows]
    lo, hi = _pct(min(values)), _pct(max(values))
    return lo if lo == hi else f"{lo[:-1]}–{hi}"


def _names(rows) -> str:
    """'a', 'a and b', 'a, b and c', 'a, b, c, d and 6 more'."""
    names = [r["name"] for r in rows]
    if len(names) > 5:
        return ", ".join(names[:4]) + f" and {len(names) - 4} more"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
