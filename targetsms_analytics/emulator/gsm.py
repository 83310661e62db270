"""SMS part counting (GSM 03.38 / UCS-2), the emulator's own implementation.

A text made only of characters of the GSM 03.38 default alphabet and its extension table is sent
in 7-bit septets: 160 per single SMS, 153 per part of a long one; an extension character costs two
septets (escape + code) and a part never splits such a pair. Any other text is sent as UCS-2, counted
in UTF-16 code units: 70 per single SMS, 67 per part; a surrogate pair is never split.
"""

from __future__ import annotations

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM 03.38 basic or extension table."""
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def _pack(widths: list[int], single: int, part: int) -> int:
    if sum(widths) <= single:
        return 1
    parts, used = 1, 0
    for w in widths:
        if used + w > part:
            parts += 1
            used = 0
        used += w
    return parts


def sms_parts(text: str) -> int:
    """Number of SMS parts ``text`` takes (at least 1).

    >>> sms_parts("a" * 160), sms_parts("a" * 161), sms_parts("я" * 70), sms_parts("я" * 71)
    (1, 2, 1, 2)
    """
    if is_gsm7(text):
        widths = [2 if ch in GSM_EXTENSION else 1 for ch in text]
        return _pack(widths, GSM_SINGLE, GSM_PART)
    widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return _pack(widths, UCS2_SINGLE, UCS2_PART)
