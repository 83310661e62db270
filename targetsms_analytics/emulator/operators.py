"""The emulator's own numbering plan: which direction (country, operator) a number belongs to.

A deliberately small table of Russian mobile DEF codes (``79xx``), good enough to give demo traffic
a realistic mix of operators. Mobile number portability is ignored.
"""

from __future__ import annotations

RUSSIA = "Россия"
KAZAKHSTAN = "Казахстан"
OTHERS = "Остальные"

MTS, MEGAFON, BEELINE, TELE2, YOTA = "МТС", "Мегафон", "BeeLine", "Tele2", "Yota"


def _codes(*spans: tuple[int, int] | int) -> list[int]:
    out: list[int] = []
    for span in spans:
        if isinstance(span, int):
            out.append(span)
        else:
            out.extend(range(span[0], span[1] + 1))
    return out


#: Three-digit DEF code after the leading 7 -> operator.
DEF_CODES: dict[int, str] = {
    **{c: MTS for c in _codes((910, 919), (980, 989))},
    **{c: MEGAFON for c in _codes((920, 929), (930, 938))},
    **{c: BEELINE for c in _codes(903, 905, 906, 909, (960, 968))},
    **{c: TELE2 for c in _codes(900, 901, 902, 904, 908, (950, 953), 958, 977, (991, 996))},
    999: YOTA,
}

#: Price of one SMS part, in roubles, per operator (or country for non-Russian directions).
DEFAULT_PRICES: dict[str, float] = {
    MTS: 1.15,
    MEGAFON: 1.20,
    BEELINE: 1.25,
    TELE2: 0.95,
    YOTA: 1.30,
    OTHERS: 1.30,
    KAZAKHSTAN: 2.50,
}


def classify(phone: str) -> tuple[str, str] | None:
    """``(country, operator)`` for a well-formed number ``7XXXXXXXXXX``, else None.

    Kazakhstan (76x, 77x) has a single direction named after the country.

    >>> classify("79161234567"), classify("77011234567"), classify("19161234567")
    (('Россия', 'МТС'), ('Казахстан', 'Казахстан'), None)
    """
    if len(phone) != 11 or not phone.isascii() or not phone.isdigit() or phone[0] != "7":
        return None
    if phone[1] in "67":
        return KAZAKHSTAN, KAZAKHSTAN
    if phone[1] == "9":
        return RUSSIA, DEF_CODES.get(int(phone[1:4]), OTHERS)
    return RUSSIA, OTHERS
