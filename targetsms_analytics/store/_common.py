"""What every store backend shares: accounts, constants, fingerprints, tickets, small helpers.

Pure code (no database): :func:`account_of`, :func:`request_fingerprint`, :func:`check_store`.

Example::

    >>> account_of("demo", "http://127.0.0.1:8421/sendsms.php")
    'demo@127.0.0.1:8421'
"""

from __future__ import annotations

import getpass
import hashlib
import json
import operator
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from ..env import load_env_file
from ..errors import InputError

#: Environment variable that overrides the default journal file.
STORE_ENV = "TARGETSMS_STORE"
#: A batch still ``inflight`` after this many seconds is taken as lost, whoever owns it.
DEFAULT_STALE_AFTER = 900.0
#: Message outcomes a journal row may hold (``inflight`` and ``pending`` are not outcomes;
#: ``scheduled`` waits for its send window and is claimable like ``pending``; ``holdout`` is a
#: control recipient, never sent).
OUTCOMES: tuple[str, ...] = (
    "sent",
    "queued",
    "rejected",
    "duplicate",
    "unknown",
    "scheduled",
    "holdout",
)
# What the answer to a request can make of its messages.
SEND_OUTCOMES = ("sent", "queued", "rejected", "duplicate", "unknown")
# Message statuses a run may claim.
CLAIMABLE = ("pending", "scheduled")
# (A batch is reserved, claimed ahead, or inflight, then done, split, failed or unknown.)
#: The service's endpoint, the one a 0.1 journal's records are given when upgraded (the same as
#: ``client.DEFAULT_URL``; the journal does not import the client).
DEFAULT_ENDPOINT = "https://sms.targetsms.ru/sendsms.php"
DEFAULT_PORTS = {"http": 80, "https": 443}
_URL_FORM = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
# A PostgreSQL URL mistyped (one slash, or no colon): never a journal file by that name.
_POSTGRES_TYPO = re.compile(r"(?i)^postgres(?:ql)?(?::/?(?!/)|//)")


def account_of(user: str, url: str) -> str:
    """The account a client works for, as the journal keys it: ``user@host[:port]``.

    The port is written only when it is not the scheme's default; the password is never part of it.

    Example::

        >>> account_of("acme", "https://sms.targetsms.ru/sendsms.php")
        'acme@sms.targetsms.ru'
        >>> account_of("demo", "http://127.0.0.1:8421/sendsms.php")
        'demo@127.0.0.1:8421'
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = DEFAULT_PORTS.get(parts.scheme.lower())
    return f"{user}@{host}" + (f":{port}" if port is not None and port != default else "")


#: URL schemes of a PostgreSQL store.
POSTGRES_SCHEMES = ("postgresql", "postgres")


def check_store(store: object) -> None:
    """Refuse a ``store=`` that looks like a URL of a kind this release cannot open.

    A file path (SQLite) or a ``postgresql://user@host:port/db`` URL is a store; any other
    ``scheme://`` is refused with an :class:`InputError` naming only the scheme (a URL may hold a
    password).

    A mistyped PostgreSQL URL (``postgresql:/…``, ``postgresql//…``) is refused too, rather than
    taken for a file of that name.

    Example: ``check_store("journal.sqlite3")`` passes; ``check_store("mysql://me@db/j")`` raises
    ``InputError`` with ``code='store_unsupported'``.
    """
    if not isinstance(store, str | os.PathLike):
        return
    text = os.fspath(store)
    if isinstance(text, str) and text != text.strip():
        bare = text.strip()
        if _URL_FORM.match(bare) or _POSTGRES_TYPO.match(bare):
            raise InputError(
                "store_unsupported",
                "the store's URL has spaces or a line break around it (it would become a journal"
                " file of that name): remove them",
                field="store",
            )
    match = _URL_FORM.match(text)  # type: ignore[arg-type]
    if match is None:
        if isinstance(text, str) and _POSTGRES_TYPO.match(text):
            raise InputError(
                "store_unsupported",
                "the store looks like a mistyped PostgreSQL URL (it would become a journal file of"
                " that name): write postgresql://user@host:port/db",
                field="store",
            )
        return
    scheme = match.group(1).lower()
    if scheme in POSTGRES_SCHEMES:
        return
    raise InputError(
        "store_unsupported",
        f"a store of the kind {scheme}:// is not supported: give the path of a journal file "
        "(SQLite) or a postgresql://user@host:port/db URL",
        field="store",
    )


def is_postgres_url(store: object) -> bool:
    """True when ``store`` is a ``postgresql://`` (or ``postgres://``) URL.

    Example: ``is_postgres_url("postgresql://me@db:5432/team")`` is True.
    """
    if not isinstance(store, str):
        return False
    match = _URL_FORM.match(store)
    return match is not None and match.group(1).lower() in POSTGRES_SCHEMES


_SECRET_PARAM = re.compile(r"(?i)^(?:ssl)?pass(?:word|file)?$")


def redact_url(url: str) -> str:
    """The URL without its password (if any): what may be shown and stored.

    The password goes wherever libpq would read it: in the user info (even with a raw ``/`` or
    ``@`` in it: the host follows the last ``@``) and in ``password=``/``sslpassword=``/
    ``passfile=`` query parameters.

    Example::

        >>> redact_url("postgresql://me:secret@db:5432/team?password=x&sslmode=require")
        'postgresql://me@db:5432/team?sslmode=require'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, qmark, query = rest.partition("?")
    if "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        rest = f"{userinfo.split(':', 1)[0]}@{host}"
    if qmark:
        kept = [p for p in query.split("&") if not _SECRET_PARAM.match(p.partition("=")[0])]
        query = "&".join(kept)
    return f"{scheme}://{rest}" + (f"?{query}" if query else "")


def store_from_env() -> str | None:
    """``$TARGETSMS_STORE``, a ``.env`` file in the working directory counting (as it does for
    the credentials), or None.

    Example: ``store_from_env()`` is ``"postgresql://me@db:5432/team"`` with that line in ``.env``.
    """
    load_env_file()
    return os.environ.get(STORE_ENV) or None


def default_store_path() -> Path:
    """The journal file used when none is given: ``$TARGETSMS_STORE`` (or a ``.env`` line) or
    the user data dir.

    Example: ``print(default_store_path())`` shows the file ``Journal()`` opens, e.g.
    ``~/.local/share/targetsms-analytics/journal.sqlite3`` on Linux.
    """
    env = store_from_env()
    if env:
        check_store(env)
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("targetsms-analytics")) / "journal.sqlite3"


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without passwd entry)
        return ""


# ---------------------------------------------------------------- helpers


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | pd.Timestamp | str | None) -> str | None:
    """ISO 8601 UTC text; naive datetimes are taken as UTC."""
    if type(value) is datetime:  # the common case (now_utc()), without pandas: ~20× faster
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat()
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat()


def times(values: Iterable[str | None]) -> pd.Series:
    series = pd.to_datetime(pd.Series(list(values), dtype="object"), utc=True, format="ISO8601")
    return series.astype("datetime64[ns, UTC]")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# One encoder for every row (json.dumps with options builds a new one per call).
_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
# What _JSON encodes a str with (ensure_ascii=False): the C version where there is one.
_encode_str = json.encoder.encode_basestring


class JSONText(str):
    """Text already encoded as JSON, as :func:`json_or_none` would encode the value: stored as
    it is (see :func:`encode_dicts`)."""

    __slots__ = ()


def batch_fields(batch: Mapping[str, Any]) -> dict[str, Any]:
    """One of ``begin_batches``' batches as ``begin_batch``'s arguments after the campaign:
    ``phones``, ``text``, ``parts``, ``parent``, ``variant``, ``contacts`` and ``reserved``
    (the optional ones None, or False, when absent).

    Example: ``batch_fields({"phones": ["79001234567"], "text": "Hi"})["parts"] is None``.
    """
    return {
        "phones": batch["phones"],
        "text": batch["text"],
        "parts": batch.get("parts"),
        "parent": batch.get("parent"),
        "variant": batch.get("variant"),
        "contacts": batch.get("contacts"),
        "reserved": bool(batch.get("reserved")),
    }


def json_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is JSONText:
        return str(value)
    return _JSON.encode(value)


def _encoded_column(values: Sequence[Any]) -> list[str]:
    kinds = set(map(type, values))
    if kinds == {str}:
        return list(map(_encode_str, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    return [_encode_str(v) if type(v) is str else _JSON.encode(v) for v in values]


def encode_dicts(keys: Sequence[str], columns: Sequence[Sequence[Any]]) -> list[JSONText]:
    """``json_or_none(dict(zip(keys, row)))`` for each row of ``columns`` (one list of values
    per key), the same text, encoded column by column: a column of str or int values is one
    C-level ``map``, not one encoder call per cell (measured on 1,000 rows of two columns:
    6.1 -> 1.7 ms, dicts included). A key given twice keeps its first place and its last
    value, as ``dict`` does. At least one key.

    Example: ``encode_dicts(["n", "name"], [[1, 2], ["Анна", "Олег"]])[0]`` is
    ``'{"n": 1, "name": "Анна"}'``.
    """
    last = {k: j for j, k in enumerate(keys)}
    order = list(last)
    prefixes = ["{" + _encode_str(order[0]) + ": "]
    prefixes += [", " + _encode_str(k) + ": " for k in order[1:]]
    encoded = [_encoded_column(columns[last[k]]) for k in order]
    add = operator.add
    return [JSONText("".join(map(add, prefixes, row)) + "}") for row in zip(*encoded, strict=True)]


def request_fingerprint(url: str, user: str, sender: str, phones: Sequence[str], text: str) -> str:
    """SHA-256 of a send request's fields - endpoint, user, sender, phones, text - never the password.

    Two requests with the same fingerprint are the same request to the service (its
    identical-request window). The fields are hashed directly, not the wire form: the journal
    builds no requests.

    Example::

        >>> len(request_fingerprint("http://h/sendsms.php", "demo", "SHOP", ["79001234567"], "Hi"))
        64
    """
    fields = ["targetsms-send/2", url.split("?", 1)[0], user, sender, list(phones), text]
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def pid_alive(pid: int) -> bool:
    try:
        import psutil  # optional: exact on every platform
    except ImportError:  # pragma: no cover - psutil is present in the dev environment
        if sys.platform == "win32":
            return True  # unknowable without psutil: the stale timeout decides
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return psutil.pid_exists(pid)


@dataclass(frozen=True)
class BatchTicket:
    """A batch recorded as in flight: its ``id`` and the ``phones`` this run claimed, in order.

    ``refused_at``: when the service last refused this very request (same fingerprint), if it did;
    the service refuses an identical request within its interval, so the sender waits it out.
    ``reserved``: claimed ahead of its request (batch state ``reserved``): it goes in flight with
    :meth:`Journal.launch_batch` just before the request, or back to pending if never sent.

    Example: ``ticket = journal.begin_batch(...); client.send(sender, ticket.phones, text)``.
    """

    id: int
    phones: list[str]
    fingerprint: str
    refused_at: datetime | None = None
    reserved: bool = False


def expand_contacts(frame: pd.DataFrame) -> pd.DataFrame:
    """Replace a frame's ``contact`` column (JSON objects) by one column per key, in first-seen
    order; a key that clashes with an existing column is left out.

    Example: ``expand_contacts(frame)["city"]`` after rows were sent with ``contacts=``.
    """
    if "contact" not in frame.columns:
        return frame
    raw = frame["contact"]
    frame = frame.drop(columns="contact")
    if raw.isna().all():
        return frame
    dicts = [json.loads(v) if isinstance(v, str) else {} for v in raw]
    keys = [k for k in dict.fromkeys(k for d in dicts for k in d) if k not in frame.columns]
    for key in keys:
        frame[key] = pd.Series([d.get(key) for d in dicts], index=frame.index, dtype=object)
    return frame


class Row(tuple):
    """A result row readable by position and by column name, like ``sqlite3.Row``.

    Example: ``row = Row(("a", 1), ("name", "n")); row["n"] == 1 and row[0] == "a"``.
    """

    _names: tuple[str, ...]

    def __new__(cls, values: Sequence[Any], names: Sequence[str]) -> Row:
        row = super().__new__(cls, values)
        row._names = tuple(names)
        return row

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, so that ``dict(row)`` works."""
        return list(self._names)


def one_account_per_id(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of SMS ids looked up without an account, one per id; an id that several accounts
    have (two services number their SMS alike) is refused instead of given its first one.

    Example: ``one_account_per_id(frame)`` with ``sms_id`` and ``account`` columns.
    """
    accounts = frame.groupby("sms_id", sort=False)["account"].nunique()
    clash = accounts[accounts > 1]
    if len(clash):
        names = sorted(set(frame.loc[frame["sms_id"].isin(clash.index), "account"]))
        raise InputError(
            "ambiguous_account",
            f"{len(clash)} of these SMS ids (e.g. {clash.index[0]}) exist in several accounts "
            f"({', '.join(names)}): pass account=",
            field="account",
        )
    return frame.drop_duplicates("sms_id").reset_index(drop=True)
