"""Bulk detailed statuses into a DataFrame: concurrent, incremental, throttle-aware.

Final states are kept in the journal and never asked for again. Ids are asked in the order in
which the identical-request interval allows them, so a pending id asked again too soon waits its
turn at the back while the others go.

Example::

    result = ts.send_campaign(client, contacts, "Привет, {name}!", "SHOP", campaign="spring")
    statuses = ts.fetch_statuses(client, result)          # or "spring", or a list of ids
    statuses = ts.wait_for_final(client, "spring", timeout=600)
"""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import InputError, TargetSMSError
from .journal import Journal, account_of, open_journal
from .protocol import FINAL_STATES, MOSCOW, StatusDetail

if TYPE_CHECKING:
    from .client import TargetSMSClient

__all__ = ["STATUS_COLUMNS", "fetch_statuses", "load_statuses", "wait_for_final"]

logger = logging.getLogger("targetsms_analytics")

#: The columns of a status frame (ARCHITECTURE.md, "Status frames").
STATUS_COLUMNS: tuple[str, ...] = (
    "sms_id",
    "msisdn",
    "campaign",
    "state",
    "is_final",
    "changed_at",
    "num_parts",
    "price",
    "cost",
    "sent_at",
    "error_code",
    "sender",
    "account",
    "variant",
    "not_before",
)

#: Fetched statuses are written to the journal in chunks of this many…
_SAVE_EVERY = 500
#: …or after this many seconds, whichever comes first: a crash loses at most a few seconds.
_SAVE_SECONDS = 3.0

IdsOrCampaign = str | Iterable[Any] | pd.Series | pd.DataFrame


def _resolve_ids(
    what: IdsOrCampaign, journal: Journal, account: str | None = None
) -> tuple[list[str], str | None]:
    """The SMS ids asked for, and the account they belong to (None: not known from the input).

    A campaign name is looked up in ``account`` when given; a name that several accounts use
    needs it (``InputError`` listing them), and a name only another account has is refused.
    """
    if isinstance(what, str):
        found = journal.resolve_account(what, account)
        if found is None:
            elsewhere = journal.campaign_accounts(what)
            if elsewhere:
                raise InputError(
                    "unknown_campaign",
                    f"campaign {what!r} belongs to {', '.join(elsewhere)}, not to {account}: "
                    "use that account's client (or pass account=)",
                    field="account",
                )
            campaigns = journal.campaigns()
            known = (
                ", ".join(
                    f"{c!r} ({a})"
                    for c, a in zip(campaigns["campaign"], campaigns["account"], strict=True)
                )
                if len(campaigns)
                else "none"
            )
            raise InputError(
                "unknown_campaign",
                f"the journal {journal.path} has no campaign {what!r} (campaigns: {known}); "
                "point to the journal it was sent with (store= in Python, --store on the "
                "command line), or pass SMS ids",
                field="campaign",
            )
        account = found
        ids = journal.campaign_messages(what, account=account)["sms_id"]
    elif isinstance(what, pd.DataFrame):
        if "sms_id" not in what.columns:
            raise InputError(
                text="the frame has no 'sms_id' column (pass send_campaign's result, or ids)",
                field="sms_id",
            )
        ids = what["sms_id"]
        account = _frame_account(what, account)
    else:
        ids = pd.Series(list(what), dtype="object")
    out = []
    for value in ids:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            continue
        text = str(value).strip()
        if text.endswith(".0") and text[:-2].isdigit():  # an id that went through a float column
            text = text[:-2]
        if text:
            out.append(text)
    return out, account


def _frame_account(frame: pd.DataFrame, account: str | None) -> str | None:
    """The account of a result frame's ``account`` column: one, and ``account`` if given."""
    if "account" not in frame.columns:
        return account
    found = sorted({str(a) for a in frame["account"].dropna()})
    if len(found) > 1:
        raise InputError(
            "ambiguous_account",
            f"the frame holds SMS ids of several accounts ({', '.join(found)}): "
            "pass one account's rows",
            field="account",
        )
    if found and account is not None and found[0] != account:
        raise InputError(
            "account_mismatch",
            f"these SMS ids belong to {found[0]}, not to {account}: use that account's client "
            "(or pass account=)",
            field="account",
        )
    return found[0] if found else account


def _check_concurrency(concurrency: object, client: object) -> int:
    """An int of at least 1, capped at the client's connection pool (more threads only queue)."""
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, numbers.Integral)
        or concurrency < 1
    ):
        raise InputError(
            text=f"concurrency must be an int of at least 1, not {concurrency!r}",
            field="concurrency",
        )
    wanted = int(concurrency)
    pool = getattr(client, "pool_size", None)
    if isinstance(pool, int) and not isinstance(pool, bool) and 1 <= pool < wanted:
        logger.warning(
            "concurrency %d capped at %d, the client's connection pool size (pool_size=)",
            wanted,
            pool,
        )
        return pool
    return wanted


def _client_account(client: TargetSMSClient, account: str | None) -> str:
    mine = account_of(client.user, client.url)
    if account is not None and account != mine:
        raise InputError(
            "account_mismatch",
            f"account {account!r} is not this client's ({mine}): its SMS ids mean nothing to "
            "this service; use a client of that account",
            field="account",
        )
    return mine


def _progress(total: int, enabled: bool, desc: str):
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sms", leave=False)


def fetch_statuses(
    client: TargetSMSClient,
    ids_or_campaign: IdsOrCampaign,
    *,
    store: str | Journal | None = None,
    concurrency: int = 8,
    progress: bool = True,
    on_progress: Callable[[int, int], object] | None = None,
    account: str | None = None,
) -> pd.DataFrame:
    """Detailed statuses of many SMS as a DataFrame, one row per id in the order asked.

    ``ids_or_campaign``: SMS ids (a list or Series), a frame with an ``sms_id`` column (such as
    ``send_campaign``'s result), or a campaign name in the journal. Final states already in the
    journal are not fetched again; everything fetched is stored. A failure for one id is recorded
    in its ``error_code`` and the others go on. Columns: ``STATUS_COLUMNS``. ``on_progress(done,
    total)`` is called from the calling thread as answers arrive (a widget's progress bar).

    Everything is in the client's account (``account``, when given, must be it): a campaign name
    is looked up there, and statuses are stored for it. ``concurrency`` is an int of at least 1,
    capped (with a log line) at the client's connection pool size. Statuses are journaled every
    500 and every few seconds, so an interrupted fetch keeps what it got.

    Example::

        statuses = ts.fetch_statuses(client, ["1179038981", "1179038982"], concurrency=16)
        statuses.groupby("state").size()
    """
    workers = _check_concurrency(concurrency, client)
    account = _client_account(client, account)
    with open_journal(store) as journal:
        ids, _ = _resolve_ids(ids_or_campaign, journal, account)
        unique = list(dict.fromkeys(ids))
        known = journal.statuses(unique, account=account)
        final_ids = set(known.loc[known["is_final"], "sms_id"])
        to_fetch = [i for i in unique if i not in final_ids]
        errors = _fetch_many(
            client,
            to_fetch,
            lambda items: journal.save_statuses(items, account=account),
            concurrency=workers,
            progress=progress,
            on_progress=on_progress,
        )
        return _status_frame(ids, journal, errors, account)


def load_statuses(
    ids_or_campaign: IdsOrCampaign,
    *,
    store: str | Journal | None = None,
    account: str | None = None,
) -> pd.DataFrame:
    """The status frame from what the journal already holds, without a single request.

    Same input forms and columns as :func:`fetch_statuses`. An SMS the journal sent but whose
    status was never fetched counts as ``send`` (sent, no status yet), with its journaled part
    count; an id the journal knows nothing of has no state. A campaign name that several
    accounts use needs ``account``; ids are looked up in ``account`` when given. The journal is
    opened read-only (a report works on read-only media).

    Example: ``ts.load_statuses("spring")["state"].value_counts(dropna=False)``.
    """
    with open_journal(store, readonly=True) as journal:
        ids, account = _resolve_ids(ids_or_campaign, journal, account)
        return _status_frame(ids, journal, {}, account)


def _fetch_many(
    client: TargetSMSClient,
    ids: list[str],
    save: Callable[[list[StatusDetail]], object],
    *,
    concurrency: int,
    progress: bool,
    on_progress: Callable[[int, int], object] | None = None,
    clock: Callable[[], float] = time.monotonic,
    save_every: int = _SAVE_EVERY,
    save_seconds: float = _SAVE_SECONDS,
) -> dict[str, str]:
    """Fetch ids concurrently, the ones the interval allows soonest first; return the failures.

    Statuses are handed to ``save`` every ``save_every`` answers or ``save_seconds`` (on
    ``clock``) after the oldest unsaved one, whichever comes first, and at the end, also when
    interrupted (Ctrl-C in a notebook): what was fetched is never asked for again in vain.
    """
    errors: dict[str, str] = {}
    if not ids:
        return errors
    # Sorting by the time each id's identical request is allowed again means a worker only ever
    # sleeps when nothing else is ready: the pool is never stalled by one early re-ask.
    order = sorted(ids, key=lambda i: client.read_wait("detail", i))
    bar = _progress(len(order), progress, "statuses")
    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(order)))
    unsaved: list[StatusDetail] = []
    since = clock()
    done = 0
    try:
        futures = {pool.submit(_fetch_one, client, sms_id): sms_id for sms_id in order}
        for future in as_completed(futures):
            result = future.result()
            if isinstance(result, StatusDetail):
                if not unsaved:
                    since = clock()
                unsaved.append(result)
                if len(unsaved) >= save_every or clock() - since >= save_seconds:
                    save(unsaved)
                    unsaved = []
            else:
                errors[futures[future]] = result
            done += 1
            if bar is not None:  # only this thread touches the bar
                bar.update(1)
            if on_progress is not None:
                on_progress(done, len(order))
    finally:
        # After Ctrl-C or a bug, drop the queued ids instead of asking every one of them first.
        pool.shutdown(wait=False, cancel_futures=True)
        if unsaved:
            save(unsaved)
        if bar is not None:
            bar.close()
    return errors


def _fetch_one(client: TargetSMSClient, sms_id: str) -> StatusDetail | str:
    """The detailed status of one id, or the code of the service's error for it."""
    try:
        return client.status_detail(sms_id)
    except TargetSMSError as exc:
        logger.warning("status of %s: %s", sms_id, exc.code)
        return exc.code


_INFO_COLUMNS = (
    "sms_id", "msisdn", "campaign", "sender", "sent_at", "parts", "account", "variant", "not_before",
)  # fmt: skip
# Columns of Journal.message_info that are not contact data.
_MESSAGE_COLUMNS = frozenset(Journal._MESSAGE_COLS) | {"outcome"}


def _status_frame(
    ids: list[str], journal: Journal, errors: dict[str, str], account: str | None = None
) -> pd.DataFrame:
    unique = list(dict.fromkeys(ids))
    stored = journal.statuses(unique, account=account)
    info = journal.message_info(unique, account=account)
    contact_cols = [
        c for c in info.columns if c not in _MESSAGE_COLUMNS and c not in STATUS_COLUMNS
    ]
    frame = pd.DataFrame({"sms_id": pd.Series(ids, dtype="object")})
    frame = frame.merge(
        info[[*_INFO_COLUMNS, *contact_cols]],
        on="sms_id",
        how="left",
        sort=False,
    )
    frame = frame.merge(
        stored[["sms_id", "state", "changed_at", "num_parts", "price", "account"]].rename(
            columns={"account": "status_account"}
        ),
        on="sms_id",
        how="left",
        sort=False,
    )
    frame["account"] = frame["account"].astype(object).fillna(frame["status_account"])
    if account is not None:
        frame["account"] = frame["account"].fillna(account)
    frame["not_before"] = pd.to_datetime(frame["not_before"], utc=True)
    # Sent by us (the journal has it) and never fetched: "send" is exactly what the service says
    # of such an SMS. A failed fetch keeps no state, so reports count it as failed_fetch.
    unfetched = frame["state"].isna() & frame["parts"].notna()
    unfetched &= ~frame["sms_id"].isin(list(errors))
    frame["state"] = frame["state"].astype(object).where(~unfetched, "send")
    frame["num_parts"] = frame["num_parts"].astype("Int64").fillna(frame["parts"].astype("Int64"))
    frame["is_final"] = frame["state"].isin(FINAL_STATES).astype(bool)
    frame["changed_at"] = pd.to_datetime(frame["changed_at"], utc=True).dt.tz_convert(MOSCOW)
    frame["sent_at"] = pd.to_datetime(frame["sent_at"], utc=True).dt.tz_convert(MOSCOW)
    frame["price"] = frame["price"].astype("float64")
    frame["cost"] = frame["num_parts"].astype("float64") * frame["price"]
    frame["error_code"] = pd.Series(
        [errors.get(i) for i in frame["sms_id"]], index=frame.index, dtype="object"
    )
    return frame[[*STATUS_COLUMNS, *contact_cols]]


def wait_for_final(
    client: TargetSMSClient,
    ids_or_campaign: IdsOrCampaign,
    *,
    store: str | Journal | None = None,
    timeout: float = 900.0,
    concurrency: int = 8,
    progress: bool = True,
    poll_interval: float | None = None,
    account: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = time.sleep,
) -> pd.DataFrame:
    """Fetch statuses again at the allowed pace until every one is final or ``timeout`` passes.

    Each round asks only the ids still pending; between rounds it waits for the identical-request
    interval (or ``poll_interval`` if that is longer). No round starts after the deadline: when the
    next one could not, it returns at once. Returns the last status frame. ``account``: as for
    :func:`fetch_statuses` (the client's). ``clock`` (monotonic seconds, as the client's) and
    ``sleep`` time the rounds and the deadline; tests inject them.

    Example: ``ts.wait_for_final(client, "spring", timeout=600)["state"].value_counts()``.
    """
    deadline = clock() + timeout
    account = _client_account(client, account)
    with open_journal(store) as journal:
        ids, _ = _resolve_ids(ids_or_campaign, journal, account)
        bar = _progress(len(set(ids)), progress, "final")
        try:
            while True:
                frame = fetch_statuses(
                    client,
                    ids,
                    store=journal,
                    concurrency=concurrency,
                    progress=False,
                    account=account,
                )
                final = int(frame.drop_duplicates("sms_id")["is_final"].sum())
                if bar is not None:
                    bar.n = final
                    bar.refresh()
                pending = frame.loc[~frame["is_final"], "sms_id"].unique().tolist()
                if not pending:
                    return frame
                soonest = min(client.read_wait("detail", i) for i in pending)
                pause = max(soonest, poll_interval or 0.0, 0.05)
                if clock() + pause > deadline:
                    return frame  # the next round could not start before the deadline
                sleep(pause)
        finally:
            if bar is not None:
                bar.close()
