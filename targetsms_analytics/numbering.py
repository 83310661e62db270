"""Operator, region and time zone of a Russian mobile number, from the official numbering plan.

The regulator publishes the registry of mobile ranges (``DEF-9xx.csv``: code, first and last
number, operator's legal name, region, tax number). :func:`build_table` turns it into a small table
(sorted range starts; brands, regions and IANA time zones already normalized) that ships inside
the package; :func:`lookup_numbers` finds each number's range by binary search
(``numpy.searchsorted``), a million numbers in well under a second.

- ``operator`` is the brand: ``МТС``, ``МегаФон``, ``Билайн``, ``Т2`` for the four big operators,
  other operators by their legal name without the legal form and quotes (``Скартел`` — Yota's
  company, ``Тинькофф Мобайл``, ``МТТ``). Brands are keyed on the tax number (ИНН), so a renamed
  company stays one brand.
- ``region`` is one spelling per federal subject (``Краснодарский край`` for
  ``г. Сочи|Краснодарский край``); ranges the registry gives to two subjects at once keep both
  (``Москва и Московская область``); nationwide ranges are ``Российская Федерация``.
- ``time_zone`` is the IANA zone of the region (``Europe/Kaliningrad`` … ``Asia/Kamchatka``); a
  region spanning several zones gets its capital's (Yakutia: ``Asia/Yakutsk``); missing for
  nationwide ranges.

MNP caveat: the operator is the one the number's range was allocated to; a subscriber who ported
the number to another operator keeps it, which only the operators' own lookup can tell.

A user can switch to a newer registry file with ``targetsms numbering update DEF-9xx.csv``: the
table is then read from the user data dir (or ``$TARGETSMS_NUMBERING``) in preference to the
shipped one. :func:`registry_date` says which registry the table in use was built from.

Example::

    >>> import targetsms_analytics as ts
    >>> ts.lookup_numbers(["79161234567", "79221234567", "74951234567"])
            msisdn operator                       region           time_zone
    0  79161234567      МТС  Москва и Московская область       Europe/Moscow
    1  79221234567  МегаФон         Свердловская область  Asia/Yekaterinburg
    2  74951234567  unknown                          NaN                 NaN
"""

from __future__ import annotations

import gzip
import io
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError, RaggedRowError
from .phones import UNKNOWN_OPERATOR

__all__ = [
    "BRANDS_BY_INN",
    "NUMBERING_ENV",
    "REGION_TIME_ZONES",
    "brand_of_direction",
    "brand_of_operator",
    "build_table",
    "lookup_numbers",
    "normalize_region",
    "parse_registry",
    "read_table",
    "registry_date",
    "table_bytes",
    "table_info",
    "user_table_path",
]

#: Environment variable naming the user's table file (default: the user data dir).
NUMBERING_ENV = "TARGETSMS_NUMBERING"
#: File name of the table, in the package's ``data`` folder and in the user data dir.
TABLE_NAME = "numbering.csv.gz"
_FORMAT = "targetsms-numbering 1"
_DATE = re.compile(r"[12][0-9]{3}(?:-[01][0-9](?:-[0-3][0-9])?)?")

#: The registry's columns, in order (``АВС/ DEF`` is written with a space by the regulator).
REGISTRY_COLUMNS: tuple[str, ...] = ("АВС/ DEF", "От", "До", "Емкость", "Оператор", "Регион", "ИНН")
_TABLE_COLUMNS = ("start", "end", "operator", "region", "time_zone", "inn")

#: Brands of the four big operators, by tax number (ИНН); Tele2's St Petersburg company is Т2 too.
BRANDS_BY_INN: dict[str, str] = {
    "7740000076": "МТС",  # ПАО "Мобильные ТелеСистемы"
    "7812014560": "МегаФон",  # ПАО "МегаФон"
    "7713076301": "Билайн",  # ПАО "Вымпел-Коммуникации"
    "7743895280": "Т2",  # ООО "Т2 Мобайл"
    "7815020097": "Т2",  # АО "Теле2-Санкт-Петербург"
}

# ---------------------------------------------------------------- brands

_LEGAL_FORMS = re.compile(
    r"^(?:(?:публичное|открытое|закрытое|непубличное)\s+)?акционерное\s+общество\s+"
    r"|^общество\s+с\s+ограниченной\s+ответственностью\s+"
    r"|^федеральное\s+государственное\s+унитарное\s+предприятие\s+"
    r"|^(?:ООО|ОАО|ПАО|ЗАО|НАО|АО|ФГУП|ГУП|МУП|ИП)\s+",
    re.IGNORECASE,
)
_QUOTES = re.compile(r"[\"'«»“”„]")


def brand_of_operator(legal_name: str, inn: str | None = None) -> str:
    """The brand of an operator from the registry: one of the big four, else the name bare.

    ``inn`` (tax number) picks the big four whatever their legal name; anyone else is their legal
    name without the legal form (``ООО``, ``Акционерное общество``…) and quotes.

    Example::

        >>> brand_of_operator('ПАО "Мобильные ТелеСистемы"', "7740000076")
        'МТС'
        >>> brand_of_operator('ООО "Тинькофф Мобайл"'), brand_of_operator('Акционерное общество "Тандер"')
        ('Тинькофф Мобайл', 'Тандер')
    """
    if inn is not None and str(inn).strip() in BRANDS_BY_INN:
        return BRANDS_BY_INN[str(inn).strip()]
    name = " ".join(str(legal_name).split())
    while True:
        bare = _LEGAL_FORMS.sub("", name, count=1)
        if bare == name:
            break
        name = bare
    name = " ".join(_QUOTES.sub(" ", name).split())
    return name or " ".join(str(legal_name).split())


#: Balance package directions (casefolded) that name an operator under another name than its brand.
_DIRECTION_BRANDS: dict[str, str] = {
    "мтс": "МТС",
    "mts": "МТС",
    "мегафон": "МегаФон",
    "megafon": "МегаФон",
    "билайн": "Билайн",
    "beeline": "Билайн",
    "вымпелком": "Билайн",
    "т2": "Т2",
    "t2": "Т2",
    "tele2": "Т2",
    "теле2": "Т2",
    # Yota's ranges are held by its company, ООО "Скартел" (of the MegaFon group): the registry's name.
    "yota": "Скартел",
    "йота": "Скартел",
    "скартел": "Скартел",
    # Rostelecom's former mobile companies went to Tele2 (T2 RTK Holding, 2014).
    "skylink": "Т2",
    "скайлинк": "Т2",
    "байкалвестком": "Т2",
    "уралсвязьинформ": "Т2",
    "енисейтелеком": "Т2",
    "нсс": "Т2",
    # Motiv is the brand of ООО "ЕКАТЕРИНБУРГ-2000", the name the registry gives its ranges.
    "мотив": "ЕКАТЕРИНБУРГ-2000",
    "motiv": "ЕКАТЕРИНБУРГ-2000",
    "тинькофф": "Тинькофф Мобайл",
    "tinkoff": "Тинькофф Мобайл",
    "ростелеком": "Ростелеком",
}


def brand_of_direction(name: str) -> str:
    """The operator brand a balance package direction is for, as :func:`lookup_numbers` names it.

    ``МТС``, ``Мегафон``, ``BeeLine``, ``Tele2`` give ``МТС``, ``МегаФон``, ``Билайн``, ``Т2``;
    ``Yota`` gives ``Скартел`` (the company holding Yota's ranges in the registry); Skylink and the
    former Rostelecom mobile companies (``Байкалвестком``, ``Уралсвязьинформ``, ``Енисейтелеком``,
    ``НСС``) give ``Т2``, which took them over; ``Мотив`` gives ``ЕКАТЕРИНБУРГ-2000``. Directions
    that are not one operator (``Россия``, ``Остальные``) and unknown names come back as written
    (without legal form and quotes).

    Example::

        >>> [brand_of_direction(d) for d in ["Мегафон", "BeeLine", "Tele2", "Yota", "Остальные"]]
        ['МегаФон', 'Билайн', 'Т2', 'Скартел', 'Остальные']
    """
    text = " ".join(str(name).split())
    return _DIRECTION_BRANDS.get(text.casefold(), brand_of_operator(text) if text else text)


# ---------------------------------------------------------------- regions and time zones

_MSK, _EKB, _VVO = "Europe/Moscow", "Asia/Yekaterinburg", "Asia/Vladivostok"

#: The IANA time zone of each region, by its one spelling (a region spanning zones: its capital's).
REGION_TIME_ZONES: dict[str, str | None] = {
    "Калининградская область": "Europe/Kaliningrad",
    # UTC+3
    "Москва и Московская область": _MSK,
    "Москва": _MSK,
    "Московская область": _MSK,
    "Санкт-Петербург и Ленинградская область": _MSK,
    "Санкт-Петербург": _MSK,
    "Ленинградская область": _MSK,
    "Архангельская область и Ненецкий автономный округ": _MSK,
    "Архангельская область": _MSK,
    "Ненецкий автономный округ": _MSK,
    "Белгородская область": _MSK,
    "Брянская область": _MSK,
    "Владимирская область": _MSK,
    "Вологодская область": _MSK,
    "Воронежская область": _MSK,
    "Ивановская область": _MSK,
    "Калужская область": _MSK,
    "Костромская область": _MSK,
    "Курская область": _MSK,
    "Липецкая область": _MSK,
    "Мурманская область": _MSK,
    "Нижегородская область": _MSK,
    "Новгородская область": _MSK,
    "Орловская область": _MSK,
    "Пензенская область": _MSK,
    "Псковская область": _MSK,
    "Ростовская область": _MSK,
    "Рязанская область": _MSK,
    "Смоленская область": _MSK,
    "Тамбовская область": _MSK,
    "Тверская область": _MSK,
    "Тульская область": _MSK,
    "Ярославская область": _MSK,
    "Краснодарский край": _MSK,
    "Ставропольский край": _MSK,
    "Республика Адыгея": _MSK,
    "Республика Дагестан": _MSK,
    "Республика Ингушетия": _MSK,
    "Кабардино-Балкарская Республика": _MSK,
    "Республика Калмыкия": _MSK,
    "Карачаево-Черкесская Республика": _MSK,
    "Республика Карелия": _MSK,
    "Республика Коми": _MSK,
    "Республика Марий Эл": _MSK,
    "Республика Мордовия": _MSK,
    "Республика Северная Осетия - Алания": _MSK,
    "Республика Татарстан": _MSK,
    "Чеченская Республика": _MSK,
    "Чувашская Республика": _MSK,
    "Донецкая Народная Республика": _MSK,
    "Луганская Народная Республика": _MSK,
    "Запорожская область": _MSK,
    "Херсонская область": _MSK,
    "Кировская область": "Europe/Kirov",
    "Волгоградская область": "Europe/Volgograd",
    "Республика Крым и Севастополь": "Europe/Simferopol",
    "Республика Крым": "Europe/Simferopol",
    "Севастополь": "Europe/Simferopol",
    # UTC+4
    "Астраханская область": "Europe/Astrakhan",
    "Самарская область": "Europe/Samara",
    "Саратовская область": "Europe/Saratov",
    "Удмуртская Республика": "Europe/Samara",
    "Ульяновская область": "Europe/Ulyanovsk",
    # UTC+5
    "Республика Башкортостан": _EKB,
    "Курганская область": _EKB,
    "Оренбургская область": _EKB,
    "Пермский край": _EKB,
    "Свердловская область": _EKB,
    "Тюменская область": _EKB,
    "Ханты-Мансийский автономный округ - Югра": _EKB,
    "Челябинская область": _EKB,
    "Ямало-Ненецкий автономный округ": _EKB,
    # UTC+6
    "Омская область": "Asia/Omsk",
    # UTC+7
    "Алтайский край": "Asia/Barnaul",
    "Республика Алтай": "Asia/Barnaul",
    "Кемеровская область": "Asia/Novokuznetsk",
    "Красноярский край": "Asia/Krasnoyarsk",
    "Республика Тыва": "Asia/Krasnoyarsk",
    "Республика Хакасия": "Asia/Krasnoyarsk",
    "Новосибирская область": "Asia/Novosibirsk",
    "Томская область": "Asia/Tomsk",
    # UTC+8
    "Иркутская область": "Asia/Irkutsk",
    "Республика Бурятия": "Asia/Irkutsk",
    # UTC+9
    "Забайкальский край": "Asia/Chita",
    "Амурская область": "Asia/Yakutsk",
    "Республика Саха (Якутия)": "Asia/Yakutsk",  # three zones; Yakutsk is the capital's
    # UTC+10
    "Еврейская автономная область": _VVO,
    "Приморский край": _VVO,
    "Хабаровский край": _VVO,
    # UTC+11
    "Магаданская область": "Asia/Magadan",
    "Сахалинская область": "Asia/Sakhalin",  # the capital's; the northern Kurils are UTC+11 too
    # UTC+12
    "Камчатский край": "Asia/Kamchatka",
    "Чукотский автономный округ": "Asia/Anadyr",
    # ranges valid anywhere in the country
    "Российская Федерация": None,
}

# Spellings the general rules below do not reach (keys: after those rules, casefolded).
_REGION_ALIASES: dict[str, str] = {
    "московская область и москва": "Москва и Московская область",
    "республика крым и г. севастополь": "Республика Крым и Севастополь",
    "ханты - мансийский - югра автономный округ": "Ханты-Мансийский автономный округ - Югра",
    "ханты-мансийский ао - югра": "Ханты-Мансийский автономный округ - Югра",
    "ханты-мансийский автономный округ": "Ханты-Мансийский автономный округ - Югра",
    "сургутский район и сургут": "Ханты-Мансийский автономный округ - Югра",
    "абзелиловский район и белорецкий район": "Республика Башкортостан",
    "республика саха /якутия/": "Республика Саха (Якутия)",
    "республика саха": "Республика Саха (Якутия)",
    "якутия": "Республика Саха (Якутия)",
    "республика карачаево-черкесская": "Карачаево-Черкесская Республика",
    "республика удмуртская": "Удмуртская Республика",
    "республика чеченская": "Чеченская Республика",
    "республика чувашская": "Чувашская Республика",
    "чувашская республика - чувашия": "Чувашская Республика",
    "республика кабардино-балкарская": "Кабардино-Балкарская Республика",
    "республика северная осетия-алания": "Республика Северная Осетия - Алания",
    "кемеровская область - кузбасс область": "Кемеровская область",
    "кемеровская область - кузбасс": "Кемеровская область",
    "еврейская автономная область": "Еврейская автономная область",
    "россия": "Российская Федерация",
}
_REGION_BY_KEY: dict[str, str] = {name.casefold(): name for name in REGION_TIME_ZONES}


@lru_cache(maxsize=4096)
def normalize_region(raw: str) -> str:
    """One spelling per region: the registry's ``Регион`` as a key of :data:`REGION_TIME_ZONES`.

    ``г. Сочи|Краснодарский край`` (a city, then its region) becomes the region; ``обл.`` is
    written out, ``АО`` becomes ``автономный округ``, ``г.`` is dropped and `` * `` means "and", so
    Moscow's three spellings are one. A spelling no rule knows comes back tidied but otherwise as is
    (its time zone is then unknown).

    Example::

        >>> normalize_region("г. Москва * Московская область"), normalize_region("г. Сочи|Краснодарский край")
        ('Москва и Московская область', 'Краснодарский край')
        >>> normalize_region("Ханты - Мансийский - Югра АО")
        'Ханты-Мансийский автономный округ - Югра'
    """
    text = " ".join(str(raw).split())
    if "|" in text:  # "city|region" or "district|region": the part after the bar
        text = text.rsplit("|", 1)[1].strip()
    text = re.sub(r"\s+\*\s+", " и ", text)
    text = re.sub(r"(?:^|(?<=\s))г\.\s*", "", text)
    text = re.sub(r"\bобл\.(?=\s|$)", "область", text)
    text = re.sub(r"\bр-ны\s+", "", text)
    text = re.sub(r"\sАО$", " автономный округ", text)
    text = re.sub(r"\sАО(?=\s-\s)", " автономный округ", text)
    key = " ".join(text.split()).casefold()
    return _REGION_ALIASES.get(key) or _REGION_BY_KEY.get(key) or " ".join(text.split())


# ---------------------------------------------------------------- the registry and the table


def _registry_error(source: str, text: str) -> InputError:
    return InputError(
        "bad_registry", f"{source}: {text} (expected the DEF-9xx.csv registry format)"
    )


def parse_registry(text: str, *, source: str = "registry") -> pd.DataFrame:
    """Read the regulator's ``DEF-9xx.csv`` text into a checked frame (one row per range).

    Columns as in the file (``REGISTRY_COLUMNS``), the numeric ones as int64. Raises ``InputError``
    (code ``bad_registry``) naming ``source`` and the file line for anything off: other columns, a
    non-number, a range whose end is before its start or whose capacity does not add up, a code
    outside 900–999, overlapping ranges, an empty file.

    Example::

        >>> text = 'АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\\n900;0;99;100;ООО Т2 Мобайл;Тверская обл.;7743895280\\n'
        >>> parse_registry(text)[["АВС/ DEF", "От", "До"]].values.tolist()
        [[900, 0, 99]]
    """
    from .contacts import read_csv_strict

    text = text.removeprefix("\ufeff")
    try:
        frame = read_csv_strict(text, sep=";").fillna("")
    except RaggedRowError as exc:
        raise _registry_error(source, str(exc)) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise _registry_error(source, f"cannot read as CSV: {exc}") from None
    columns = [" ".join(str(c).split()) for c in frame.columns]
    if [c.replace(" ", "") for c in columns] != [c.replace(" ", "") for c in REGISTRY_COLUMNS]:
        raise _registry_error(source, f"line 1: columns {columns}, not {list(REGISTRY_COLUMNS)}")
    frame.columns = list(REGISTRY_COLUMNS)
    if frame.empty:
        raise _registry_error(source, "no ranges")
    lines = np.arange(len(frame)) + 2  # the header is line 1
    for column in ("АВС/ DEF", "От", "До", "Емкость"):
        values = frame[column].str.strip()
        bad = ~values.str.fullmatch(r"[0-9]{1,10}")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise _registry_error(
                source, f"line {lines[i]}: {column} is {frame[column].iat[i]!r}, not a number"
            )
        frame[column] = values.astype(np.int64)
    for column in ("Оператор", "ИНН"):
        frame[column] = frame[column].str.strip()
        blank = frame[column].eq("").to_numpy()
        if blank.any():
            raise _registry_error(source, f"line {lines[np.flatnonzero(blank)[0]]}: no {column}")
    code, first, last = frame["АВС/ DEF"], frame["От"], frame["До"]
    checks = (
        (~code.between(900, 999), "АВС/ DEF is not a mobile code (900–999)"),
        (last > 9_999_999, "До has more than 7 digits"),
        (last < first, "До is before От"),
        (frame["Емкость"] != last - first + 1, "Емкость is not До - От + 1"),
    )
    for bad, what in checks:
        if bad.any():
            raise _registry_error(
                source, f"line {lines[np.flatnonzero(bad.to_numpy())[0]]}: {what}"
            )
    starts = (code * 10_000_000 + first).to_numpy()
    ends = (code * 10_000_000 + last).to_numpy()
    order = np.argsort(starts, kind="stable")
    overlap = starts[order][1:] <= ends[order][:-1]
    if overlap.any():
        i = int(np.flatnonzero(overlap)[0])
        raise _registry_error(
            source, f"lines {lines[order[i]]} and {lines[order[i + 1]]}: ranges overlap"
        )
    return frame


def build_table(registry: pd.DataFrame) -> pd.DataFrame:
    """The lookup table from a parsed registry: ranges sorted, brands, regions and zones normalized.

    Columns ``start``, ``end`` (the 10-digit national numbers ``9XXXXXXXXX`` that open and close
    each range), ``operator`` (brand), ``region``, ``time_zone`` (None where unknown) and ``inn``.
    One brand per tax number: the big four by :data:`BRANDS_BY_INN`, anyone else by the bare legal
    name written most often for that number (so a company renamed mid-file stays one brand).

    Example::

        >>> text = 'АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\\n916;0;9999999;10000000;ПАО "Мобильные ТелеСистемы";г. Москва * Московская область;7740000076\\n'
        >>> build_table(parse_registry(text)).loc[0, ["operator", "region", "time_zone"]].tolist()
        ['МТС', 'Москва и Московская область', 'Europe/Moscow']
    """
    inns = registry["ИНН"].astype(str).str.strip()
    names_by_inn: dict[str, Counter[str]] = {}
    for inn, name in zip(inns, registry["Оператор"].astype(str), strict=True):
        names_by_inn.setdefault(inn, Counter())[brand_of_operator(name)] += 1
    brand = {
        inn: BRANDS_BY_INN.get(inn) or min(names, key=lambda n: (-names[n], n))
        for inn, names in names_by_inn.items()
    }
    regions = registry["Регион"].astype(str).map(normalize_region)
    code = registry["АВС/ DEF"].astype(np.int64)
    table = pd.DataFrame(
        {
            "start": code * 10_000_000 + registry["От"].astype(np.int64),
            "end": code * 10_000_000 + registry["До"].astype(np.int64),
            "operator": inns.map(brand),
            "region": regions.where(regions.ne(""), None),
            "time_zone": regions.map(REGION_TIME_ZONES),
            "inn": inns,
        }
    )
    table["time_zone"] = table["time_zone"].astype(object).where(table["time_zone"].notna(), None)
    return table.sort_values("start", kind="stable").reset_index(drop=True)


def table_bytes(table: pd.DataFrame, *, registry_date: str, source: str = "") -> bytes:
    """The table as the gzipped CSV that ships in the package (and that ``numbering update`` writes).

    A few ``#`` lines first (format, ``registry_date`` — ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` —,
    source file and its SHA-256), then the columns of :func:`build_table`. The gzip header carries no time stamp, so the same registry
    always gives the same bytes.

    Example: ``Path("numbering.csv.gz").write_bytes(table_bytes(build_table(registry), registry_date="2023"))``.
    """
    if not _DATE.fullmatch(registry_date):
        raise InputError(
            "invalid_input",
            f"registry date {registry_date!r}: write it as 2024, 2024-05 or 2024-05-01",
        )
    source = " ".join(source.split())
    body = table.loc[:, list(_TABLE_COLUMNS)].to_csv(sep=";", index=False, lineterminator="\n")
    head = f"# {_FORMAT}\n# registry_date: {registry_date}\n# source: {source}\n"
    return gzip.compress((head + body).encode("utf-8"), compresslevel=9, mtime=0)


@dataclass(frozen=True)
class _Table:
    starts: np.ndarray  # int64, sorted
    ends: np.ndarray  # int64
    operators: np.ndarray  # object, one slot more than ranges: the last is for "not found"
    regions: np.ndarray
    time_zones: np.ndarray
    registry_date: str
    source: str


def read_table(data: bytes, *, source: str = "table") -> _Table:
    """Parse :func:`table_bytes` output (checked: format, sorted disjoint ranges); ``InputError`` if not.

    Example: ``read_table(table_bytes(table, registry_date="2023")).registry_date == "2023"``.
    """
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(
            "bad_numbering_table", f"{source}: not a numbering table ({exc})"
        ) from None
    meta: dict[str, str] = {}
    lines = text.split("\n")
    head = 0
    while head < len(lines) and lines[head].startswith("# "):
        key, _, value = lines[head][2:].partition(": ")
        meta[key] = value
        head += 1
    if lines[:1] != [f"# {_FORMAT}"] or "registry_date" not in meta:
        raise InputError("bad_numbering_table", f"{source}: not a {_FORMAT} table")
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(lines[head:])),
            sep=";",
            dtype={"start": np.int64, "end": np.int64, "inn": str},
            keep_default_na=False,
            na_values={"region": [""], "time_zone": [""]},
            index_col=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError("bad_numbering_table", f"{source}: {exc}") from None
    if list(frame.columns) != list(_TABLE_COLUMNS) or frame.empty:
        raise InputError("bad_numbering_table", f"{source}: columns {list(frame.columns)}")
    starts = frame["start"].to_numpy(np.int64)
    ends = frame["end"].to_numpy(np.int64)
    if (ends < starts).any() or (starts[1:] <= ends[:-1]).any():
        raise InputError("bad_numbering_table", f"{source}: ranges are not sorted and disjoint")

    def slots(column: str, missing: object) -> np.ndarray:
        values = frame[column].astype(object).where(frame[column].notna(), None)
        return np.append(values.to_numpy(dtype=object), np.array([missing], dtype=object))

    return _Table(
        starts=starts,
        ends=ends,
        operators=slots("operator", UNKNOWN_OPERATOR),
        regions=slots("region", None),
        time_zones=slots("time_zone", None),
        registry_date=meta["registry_date"],
        source=meta.get("source", ""),
    )


# ---------------------------------------------------------------- which table


def user_table_path() -> Path:
    """Where ``targetsms numbering update`` writes the user's table: ``$TARGETSMS_NUMBERING`` or the
    user data dir. A table there is used in preference to the one shipped with the package.

    Example: ``print(user_table_path())`` → ``~/.local/share/targetsms-analytics/numbering.csv.gz``.
    """
    env = os.environ.get(NUMBERING_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("targetsms-analytics")) / TABLE_NAME


@lru_cache(maxsize=1)
def _shipped_table() -> _Table:
    data = resources.files("targetsms_analytics").joinpath("data", TABLE_NAME).read_bytes()
    return read_table(data, source="shipped numbering table")


@lru_cache(maxsize=4)
def _user_table(path: str, mtime_ns: int, size: int) -> _Table:  # keyed on the file's stat
    return read_table(Path(path).read_bytes(), source=path)


def _current_table() -> _Table:
    path = user_table_path()
    try:
        stat = path.stat()
    except OSError:
        return _shipped_table()
    try:
        return _user_table(str(path), stat.st_mtime_ns, stat.st_size)
    except (InputError, OSError) as exc:  # unreadable, or written by another version's format
        warnings.warn(
            f"numbering table {path} cannot be used ({exc}); using the shipped one: "
            "run `targetsms numbering update` again or delete the file",
            RuntimeWarning,
            stacklevel=3,
        )
        return _shipped_table()


def table_info() -> dict[str, object]:
    """Which table :func:`lookup_numbers` uses: ``registry_date``, ``source`` (the registry file and
    its SHA-256), ``path`` (the user's table, or ``"shipped"``), ``ranges``, ``operators``.

    Example: ``table_info()["path"]`` is ``'shipped'`` until ``targetsms numbering update`` ran.
    """
    table = _current_table()
    user = user_table_path()
    return {
        "registry_date": table.registry_date,
        "source": table.source,
        "path": str(user) if table is not _shipped_table() else "shipped",
        "ranges": len(table.starts),
        "operators": len(set(table.operators[:-1])),
    }


def registry_date() -> str:
    """The date of the registry behind :func:`lookup_numbers` (the user's table if updated).

    Example: ``registry_date()`` → ``'2023'`` with the shipped table (a snapshot of early 2023).
    """
    return _current_table().registry_date


# ---------------------------------------------------------------- lookup

_POWERS = 10 ** np.arange(9, -1, -1, dtype=np.int64)


_CHUNK = 1 << 16  # rows converted at a time: bounds the temporary arrays (~100 bytes a row)


def _national_numbers(values: np.ndarray) -> np.ndarray:
    """``9XXXXXXXXX`` as int64 for each ``[+]79XXXXXXXXX``; -1 for anything else (vectorized)."""
    out = np.empty(len(values), dtype=np.int64)
    for begin in range(0, len(values), _CHUNK):
        chunk = values[begin : begin + _CHUNK]
        # "+79XXXXXXXXX" fits 12 characters, and one more tells a longer value from an msisdn
        text = chunk.astype("U13")
        codes = text.view(np.uint32).reshape(len(text), 13)
        plus = codes[:, 0] == ord("+")
        codes = np.where(plus[:, None], codes[:, 1:], codes[:, :-1])  # drop one leading "+"
        digits = codes[:, 1:11].astype(np.int64) - 48
        ok = (codes[:, 0] == ord("7")) & (codes[:, 1] == ord("9")) & (codes[:, 11] == 0)
        ok &= ((digits >= 0) & (digits <= 9)).all(axis=1)
        out[begin : begin + len(chunk)] = np.where(ok, digits @ _POWERS, -1)
    return out


def _slots(table: _Table, values: np.ndarray) -> np.ndarray:
    """The table row of each value (``len(table.starts)``, the extra last slot, when unknown)."""
    national = _national_numbers(values)
    slot = np.searchsorted(table.starts, national, side="right") - 1
    found = (slot >= 0) & (national >= 0)
    found &= national <= table.ends[slot.clip(min=0)]
    return np.where(found, slot, len(table.starts))


def lookup_categorical(values: np.ndarray, field: str) -> pd.Categorical:
    """One ``field`` of :func:`lookup_numbers` (``operator``, ``region`` or ``time_zone``) as a
    categorical, for reports over millions of rows: the table's few thousand names are factorized
    once, and each row only gets a code (no string per row). Unknown region/zone: NaN.

    Example: ``lookup_categorical(np.array(["79161234567"], dtype=object), "operator")[0] == "МТС"``.
    """
    table = _current_table()
    column = {"operator": table.operators, "region": table.regions, "time_zone": table.time_zones}
    codes, categories = pd.factorize(column[field], sort=True)  # missing names: code -1
    row_codes = codes[_slots(table, values)]
    used = np.zeros(len(categories) + 1, dtype=bool)  # the last: -1, a missing name
    used[row_codes] = True
    kept = np.flatnonzero(used[:-1])  # only the names that occur, in their sorted order
    remap = np.full(len(categories) + 1, -1, dtype=row_codes.dtype)
    remap[kept] = np.arange(len(kept))
    return pd.Categorical.from_codes(
        remap[row_codes], categories=pd.Index(np.asarray(categories, dtype=object)[kept])
    )


def lookup_numbers(phones: Iterable[object] | pd.Series | np.ndarray) -> pd.DataFrame:
    """Operator (brand), region and time zone of each number, from the numbering plan registry.

    ``phones`` are normalized msisdns (``'79161234567'``, as :func:`normalize_phone` gives them;
    ints and a leading ``+`` are fine): a list, Series or array. Returns one row per value, in order (a Series keeps its
    index): ``msisdn`` (the value as given), ``operator``, ``region``, ``time_zone`` (IANA). A value
    that is not a Russian mobile number, or whose range is not in the registry, has operator
    ``"unknown"`` and region and time zone missing (None or NaN by the pandas version: test
    with ``isna()``). ``.attrs["registry_date"]`` says which registry
    the table is from (see :func:`registry_date`). MNP caveat: the operator is the one the range
    was allocated to; a ported number keeps its range but has another operator.

    Example::

        >>> frame = lookup_numbers(["79161234567", "79221234567", "74951234567"])
        >>> frame["operator"].tolist(), frame["time_zone"].fillna("?").tolist()
        (['МТС', 'МегаФон', 'unknown'], ['Europe/Moscow', 'Asia/Yekaterinburg', '?'])
    """
    if isinstance(phones, pd.Series):
        index = phones.index
        values = phones.to_numpy(dtype=object)
    else:
        if not isinstance(phones, list | tuple | np.ndarray):
            phones = list(phones)
        values = np.asarray(phones, dtype=object).reshape(-1)
        index = pd.RangeIndex(len(values))
    table = _current_table()
    slot = _slots(table, values)
    frame = pd.DataFrame(
        {
            "msisdn": values,
            "operator": table.operators.take(slot),
            "region": table.regions.take(slot),
            "time_zone": table.time_zones.take(slot),
        },
        index=index,
    )
    frame.attrs["registry_date"] = table.registry_date
    return frame
