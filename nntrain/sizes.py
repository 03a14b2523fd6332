"""Byte counts in words and back: "149 GiB" in messages, ``--max-memory 8GiB`` on the command
line (binary units, as `free -h` prints them)."""

from __future__ import annotations

import math
import re

UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
_FACTORS = {"": 1, "b": 1, "k": 2 ** 10, "m": 2 ** 20, "g": 2 ** 30, "t": 2 ** 40, "p": 2 ** 50}


def format_bytes(n: int | float) -> str:
    """1536 → "1.5 KiB", 160e9 → "149 GiB" (three significant digits at most)."""
    n = float(n)
    i = 0
    while abs(n) >= 1024 and i < len(UNITS) - 1:
        n /= 1024
        i += 1
    if i == 0:
        return f"{int(n)} B"
    text = f"{n:.3g}" if n < 1000 else f"{n:.0f}"
    if "e" in text:
        text = f"{n:.0f}"
    return f"{text} {UNITS[i]}"


def parse_size(text: str | int | float) -> float:
    """"8GiB", "8G", "512 MB", "1e9", 1000000 → bytes (K, M, G, T, P are powers of 1024, with
    or without "iB"/"B"); "none", "unlimited" or "inf" → math.inf. ValueError otherwise."""
    if isinstance(text, bool):
        raise ValueError(f"expected a size such as 8GiB, received {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip().lower()
        if s in ("none", "unlimited", "inf"):
            return math.inf
        m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgtp]?)(?:i?b)?", s)
        if not m:
            raise ValueError(f"expected a size such as 8GiB, 512MiB or 1e9 (bytes), received "
                             f"{text!r}")
        value = float(m.group(1)) * _FACTORS[m.group(2)]
    if not value > 0 or math.isnan(value):
        raise ValueError(f"expected a positive size, received {text!r}")
    return value
