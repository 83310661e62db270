"""Contact lists from files: CSV exports as CRMs and Excel write them, and CSV output for Excel.

Example::

    contacts = read_contacts("export_from_crm.csv")      # cp1251 and ';' are fine
    phone = find_phone_column(contacts)                   # 'Телефон', 'phone', 'msisdn'…
    ts.estimate_campaign(contacts, "Здравствуйте, {Имя}!", phone_column=phone)
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
from pathlib import Path

import pandas as pd

from .errors import InputError, RaggedRowError

__all__ = ["PHONE_ALIASES", "find_phone_column", "read_contacts", "write_frame_csv"]

#: Column names (lowercase) taken for the phone column when the asked one is absent.
PHONE_ALIASES: tuple[str, ...] = (
    "phone",
    "phones",
    "телефон",
    "тел",
    "тел.",
    "мобильный",
    "мобильный телефон",
    "номер",
    "номер телефона",
    "msisdn",
    "mobile",
    "tel",
    "telephone",
    "phone number",
)


def _decode(raw: bytes, path: str | Path) -> tuple[str, str]:
    """Text and encoding name: UTF-16 if it starts with its BOM (Excel's "Unicode text"), else
    UTF-8 (a BOM is dropped) if it decodes, else cp1251. ``InputError`` for anything else."""
    utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    for codec in ("utf-16",) if utf16 else ("utf-8-sig", "cp1251"):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:  # 0x98 is the one byte cp1251 leaves undefined
            continue
        if "\x00" not in text:  # no text file holds NUL: an image, a spreadsheet, a zip…
            return text, codec.removesuffix("-sig")
    raise InputError(
        "bad_encoding",
        f"{path} is not a text CSV in UTF-8, cp1251 or UTF-16: save it as CSV (UTF-8)",
        field="csv",
    )


def _separator(text: str) -> str:
    """``;``, ``,`` or tab: the sniffer's answer on the first lines, else the header's commonest."""
    lines = text.splitlines()
    header = lines[0] if lines else ""
    sample = "\n".join(lines[:50])
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=";,\t").delimiter
    except csv.Error:
        sep = ""
    counts = {c: header.count(c) for c in (";", ",", "\t")}
    # A header is rarely quoted, so it settles what the sniffer cannot (one column, odd quoting).
    if not sep or counts.get(sep, 0) == 0:
        best = max(counts, key=lambda c: counts[c])
        sep = best if counts[best] else ","
    return sep


def read_contacts(path: str | Path) -> pd.DataFrame:
    """Read a CSV export as a frame of strings: UTF-8 (with or without BOM) or cp1251, ``;`` or ``,``.

    The encoding is found by trying UTF-8 first (UTF-16 when the file starts with its BOM, as
    Excel's "Unicode text" does), the separator by sniffing. Every column is read as
    ``str`` so phones keep their leading ``+`` and zeros; empty cells are missing (NaN); column
    names are stripped. ``frame.attrs`` records ``encoding`` and ``separator``.

    Example::

        contacts = read_contacts("export_from_crm.csv")   # cp1251, ';' — as Excel saves it
        contacts.attrs["encoding"], contacts["phone"].head()
    """
    raw = Path(path).read_bytes()
    text, encoding = _decode(raw, path)
    if not text.strip():
        raise InputError(text=f"{path} is empty: nobody to send to", field="csv")
    sep = _separator(text)
    try:
        frame = read_csv_strict(text, sep=sep, na_values=[""])
    except RaggedRowError as exc:
        raise InputError(text=f"{path}: {exc}", field="csv") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(text=f"cannot read {path} as CSV: {exc}", field="csv") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.attrs.update(encoding=encoding, separator=sep)
    frame.attrs["line_numbers"] = _line_numbers(text, sep, len(frame))  # rows named by file line
    return frame


def _ragged_line(text: str, sep: str) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first record longer than the header, or None."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    header = next(reader, None)
    if header is None:
        return None
    for record in reader:
        if len(record) > len(header):
            return reader.line_num, len(record), len(header)
    return None


def read_csv_strict(text: str, *, sep: str, na_values: list[str] | None = None) -> pd.DataFrame:
    """``pd.read_csv`` of ``text`` as strings, refusing a row with more fields than the header.

    pandas would take a first column of row labels when every row has one field more, or
    (with ``index_col=False``) drop the extra field with a mere warning: both shift or lose data.
    Raises ``RaggedRowError`` naming the file line instead; a row with fewer fields is padded with
    missing values. Example: ``read_csv_strict("a;b\\n1;2\\n", sep=";")``.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                dtype=str,
                keep_default_na=False,
                na_values=na_values or [],
                skipinitialspace=False,
                index_col=False,
            )
        except pd.errors.ParserError as exc:
            ragged = _ragged_line(text, sep)
            if ragged is None:
                raise
            raise RaggedRowError(_ragged_text(*ragged)) from exc
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        ragged = _ragged_line(text, sep)
        if ragged is not None:
            raise RaggedRowError(_ragged_text(*ragged))
    return frame


def _ragged_text(line: int, fields: int, expected: int) -> str:
    return (
        f"line {line} has {fields} fields but the header has {expected} "
        "(an unquoted separator in a value?)"
    )


def find_phone_column(
    contacts: pd.DataFrame, wanted: str = "phone", *, aliases: bool = True
) -> str:
    """The name of the phone column: ``wanted`` itself, the same ignoring case, or a known alias.

    Aliases (``телефон``, ``msisdn``, ``mobile``…) are only tried when ``aliases`` is true (the
    user did not name a column). Raises ``InputError`` listing the columns when none fits.

    Example::

        >>> import pandas as pd
        >>> find_phone_column(pd.DataFrame(columns=["Имя", "Телефон"]))
        'Телефон'
    """
    columns = [str(c) for c in contacts.columns]
    if wanted in columns:
        return wanted
    folded = {c.strip().casefold(): c for c in columns}
    if wanted.strip().casefold() in folded:
        return folded[wanted.strip().casefold()]
    if aliases:
        for alias in PHONE_ALIASES:
            if alias in folded:
                return folded[alias]
    listed = ", ".join(repr(c) for c in columns) or "none"
    raise InputError(
        "no_phone_column",
        f"no phone column {wanted!r} (columns: {listed}); name it with --phone-column",
        field=wanted,
    )


def write_frame_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as UTF-8 CSV with a BOM (so Excel shows Cyrillic right), without the index.

    Example: ``write_frame_csv(report, "report.csv")``; read it back with
    ``pd.read_csv(path, encoding="utf-8-sig")``.
    """
    path = Path(path)
    frame.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.10g")
    return path


def _line_numbers(text: str, sep: str, rows: int) -> range | tuple[int, ...] | None:
    """The 1-based file line (the header is line 1) where each data row starts, as pandas reads
    them (blank lines skipped, quoted newlines inside a row): a ``range`` when no line is skipped
    (cheap for pandas to copy along with the frame), else a tuple; None if the count disagrees."""
    if '"' not in text and "\n\n" not in text.replace("\r", ""):
        return range(2, rows + 2)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    starts: list[int] = []
    last = 0
    for record in reader:
        if record:
            starts.append(last + 1)
        last = reader.line_num
    lines = tuple(starts[1:])  # the first record is the header
    return lines if len(lines) == rows else None
