"""A small PHP ``serialize()`` writer, written for the emulator alone.

Strings count UTF-8 bytes; floats are written like PHP >= 7.1 (``serialize_precision = -1``):
the shortest repr, without a trailing ``.0`` (``d:2;``), exponents as ``1.0E+25``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _php_float(value: float) -> str:
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}E{sign}{int(exponent.lstrip('+-'))}"
    if text.endswith(".0"):
        text = text[:-2]
    return text


def php_serialize(value: object) -> str:
    """Serialize ``value`` exactly as PHP's ``serialize()`` would.

    Supports None, bool, int, float, str, mappings and sequences (as PHP arrays).

    >>> php_serialize({"price": 2.0, "n": "я"})
    'a:2:{s:5:"price";d:2;s:1:"n";s:2:"я";}'
    """
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, float):
        return f"d:{_php_float(value)};"
    if isinstance(value, str):
        return f's:{len(value.encode("utf-8"))}:"{value}";'
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, Sequence):
        items = enumerate(value)
    else:
        raise TypeError(f"cannot serialize {type(value).__name__}")
    body = "".join(php_serialize(k) + php_serialize(v) for k, v in items)
    return f"a:{len(value)}:{{{body}}}"
