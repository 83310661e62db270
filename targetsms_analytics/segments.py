"""SMS part counting: GSM 03.38 septets or UCS-2 code units, as the network bills them.

A text made only of characters of the GSM 03.38 default alphabet and its extension table travels in
7-bit septets: up to 160 in a single SMS, 153 per part of a long (concatenated) one, where the user
data header takes the rest. An extension character (``^ { } \\ [ ~ ] | €`` and form feed) costs two
septets, an escape and the code, and a part never splits the pair. Any other text travels as UCS-2,
counted in UTF-16 code units: 70 in a single SMS, 67 per part; a character outside the Basic
Multilingual Plane (most emoji) is a surrogate pair, costs 2 units and is never split either.

The functions are pure and fast: a typical 60-200 character text is classified with one regex search
and counted with arithmetic; only a long text holding double-width characters is walked, and then
only from boundary to boundary.

Example::

    >>> count_parts("Hello!"), count_parts("Привет!"), count_parts("a" * 161)
    (1, 1, 2)
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Literal

__all__ = [
    "GSM_BASIC",
    "GSM_EXTENSION",
    "GSM_PART",
    "GSM_SINGLE",
    "UCS2_PART",
    "UCS2_SINGLE",
    "count_parts",
    "encoding",
    "split_parts",
]

#: The GSM 03.38 default alphabet, one septet each. ESC (0x1B) is left out: it is the escape itself,
#: not a character a text can hold. 0x09 is the capital ``Ç`` as 3GPP TS 23.038 defines it.
GSM_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The GSM 03.38 extension table: two septets each (escape + code).
GSM_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

Encoding = Literal["gsm7", "ucs2"]


def _char_class(chars: frozenset[str]) -> str:
    return "".join(re.escape(c) for c in sorted(chars))


_NOT_GSM = re.compile(f"[^{_char_class(GSM_BASIC | GSM_EXTENSION)}]")
_GSM_DOUBLE = re.compile(f"[{_char_class(GSM_EXTENSION)}]")
_UCS2_DOUBLE = re.compile("[\U00010000-\U0010ffff]")


def encoding(text: str) -> Encoding:
    """``"gsm7"`` when every character is in GSM 03.38 (basic or extension), else ``"ucs2"``.

    The empty text is ``"gsm7"``.

    Example::

        >>> encoding("Price: 10€ [sale]"), encoding("Цена: 10 ₽"), encoding("ok 👍")
        ('gsm7', 'ucs2', 'ucs2')
    """
    return "gsm7" if _NOT_GSM.search(text) is None else "ucs2"


def _layout(text: str) -> tuple[list[int], int, int]:
    """Positions of the double-width characters, and the single / multipart capacity."""
    if _NOT_GSM.search(text) is None:
        double = _GSM_DOUBLE
        single, part = GSM_SINGLE, GSM_PART
    else:
        double = _UCS2_DOUBLE
        single, part = UCS2_SINGLE, UCS2_PART
    # Most texts have no double-width character at all: one C-level search settles it.
    if double.search(text) is None:
        return [], single, part
    return [m.start() for m in double.finditer(text)], single, part


def _ends(n: int, doubles: list[int], part: int) -> list[int]:
    """End index of each part when ``n`` characters are cut greedily into parts of ``part`` units.

    ``doubles`` (sorted) are the positions of the characters that cost 2 units; they are never cut.
    Each part is grown to the largest end whose cost fits: guess ``start + part`` characters, then
    drop ``ceil(excess / 2)`` characters at a time (never dropping below the best end by more than
    one character), and finally take one more character if it still fits.
    """
    ends: list[int] = []
    start = 0
    lo = 0  # index in ``doubles`` of the first double-width character at or after ``start``
    while start < n:
        end = min(n, start + part)
        while True:
            hi = bisect_left(doubles, end, lo)
            excess = (end - start) + (hi - lo) - part
            if excess <= 0:
                break
            end -= (excess + 1) // 2
        if end < n:
            hi = bisect_left(doubles, end, lo)
            cost = (end - start) + (hi - lo)
            width = 2 if hi < len(doubles) and doubles[hi] == end else 1
            if cost + width <= part:
                end += 1
        ends.append(end)
        start = end
        lo = bisect_left(doubles, start, lo)
    return ends


def count_parts(text: str) -> int:
    """How many SMS parts ``text`` takes; the empty text takes 0.

    GSM-7: up to 160 septets is one part, otherwise parts of at most 153 septets. UCS-2: up to 70
    UTF-16 units is one part, otherwise parts of at most 67. Escape pairs and surrogate pairs are
    never split across parts, so a double-width character at a boundary can cost a part.

    The empty text gives 0, not the 1 a service would bill for it: an empty text is never sent
    (campaigns mark it ``invalid``), and 0 keeps ``count_parts(t) == len(split_parts(t))``.

    Example::

        >>> count_parts("a" * 160), count_parts("a" * 161), count_parts("я" * 70), count_parts("я" * 71)
        (1, 2, 1, 2)
        >>> count_parts("a" * 152 + "€" + "a" * 152)  # the escape pair does not fit in part 1
        3
    """
    n = len(text)
    if n == 0:
        return 0
    doubles, single, part = _layout(text)
    units = n + len(doubles)
    if units <= single:
        return 1
    if not doubles:
        return -(-units // part)
    return len(_ends(n, doubles, part))


def split_parts(text: str) -> list[str]:
    """The parts ``text`` is sent as, in order; ``"".join(split_parts(t)) == t``.

    Parts are cut greedily (each as full as it can be), never inside an escape pair or a surrogate
    pair, exactly as :func:`count_parts` counts them. The empty text gives ``[]``.

    Example::

        >>> [len(p) for p in split_parts("a" * 200)]
        [153, 47]
        >>> split_parts("short")
        ['short']
    """
    n = len(text)
    if n == 0:
        return []
    doubles, single, part = _layout(text)
    if n + len(doubles) <= single:
        return [text]
    parts: list[str] = []
    start = 0
    for end in _ends(n, doubles, part):
        parts.append(text[start:end])
        start = end
    return parts
