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
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import InputError, TargetSMSError
from .journal import Journal, open_journal
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
)

#: Fetched statuses are written to the journal in chunks of this many.
_SAVE_EVERY = 500

IdsOrCampaign = str | Iterable[Any] | pd.Series | pd.DataFrame


def _resolve_ids(what: IdsOrCampaign, journal: Journal) -> list[str]:
    if isinstance(what, str):
        if journal.campaign_info(what) is None:
            campaigns = journal.campaigns()
            known = ", ".join(repr(c) for c in campaigns["campaign"]) if len(campaigns) else "none"
            raise InputError(
                "unknown_campaign",
                f"the journal {journal.path} has no campaign {what!r} (campaigns: {known}); "
                "point to the journal it was sent with (store= in Python, --store on the "
                "command line), or pass SMS ids",
                field="campaign",
            )
        ids = journal.campaign_messages(what)["sms_id"]
    elif isinstance(what, pd.DataFrame):
        if "sms_id" not in what.columns:
            raise InputError(
                text="the frame has no 'sms_id' column (pass send_campaign's result, or ids)",
                field="sms_id",
            )
        ids = what["sms_id"]
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
    return out


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
) -> pd.DataFrame:
    """Detailed statuses of many SMS as a DataFrame, one row per id in the order asked.

    ``ids_or_campaign``: SMS ids (a list or Series), a frame with an ``sms_id`` column (such as
    ``send_campaign``'s result), or a campaign name in the journal. Final states already in the
    journal are not fetched again; everything fetched is stored. A failure for one id is recorded
    in its ``error_code`` and the others go on. Columns: ``STATUS_COLUMNS``. ``on_progress(done,
    total)`` is called from the calling thread as answers arrive (a widget's progress bar).

    Example::

        statuses = ts.fetch_statuses(client, ["1179038981", "1179038982"], concurrency=16)
        statuses.groupby("state").size()
    """
    if concurrency < 1:
        raise InputError(text="concurrency must be at least 1", field="concurrency")
    with open_journal(store) as journal:
        ids = _resolve_ids(ids_or_campaign, journal)
        unique = list(dict.fromkeys(ids))
        known = journal.statuses(unique)
        final_ids = set(known.loc[known["is_final"], "sms_id"])
        to_fetch = [i for i in unique if i not in final_ids]
        errors = _fetch_many(
            client,
            to_fetch,
            journal.save_statuses,
            concurrency=concurrency,
            progress=progress,
            on_progress=on_progress,
        )
        return _status_frame(ids, journal, errors)


def load_statuses(
    ids_or_campaign: IdsOrCampaign, *, store: str | Journal | None = None
) -> pd.DataFrame:
    """The status frame from what the journal already holds, without a single request.

    Same input forms and columns as :func:`fetch_statuses`. An SMS the journal sent but whose
    status was never fetched counts as ``send`` (sent, no status yet), with its journaled part
    count; an id the journal knows nothing of has no state.

    Example: ``ts.load_statuses("spring")["state"].value_counts(dropna=False)``.
    """
    with open_journal(store) as journal:
        return _status_frame(_resolve_ids(ids_or_campaign, journal), journal, {})


def _fetch_many(
    client: TargetSMSClient,
    ids: list[str],
    save: Callable[[list[StatusDetail]], object],
    *,
    concurrency: int,
    progress: bool,
    on_progress: Callable[[int, int], object] | None = None,
) -> dict[str, str]:
    """Fetch ids concurrently, the ones the interval allows soonest first; return the failures.

    Statuses are handed to ``save`` every ``_SAVE_EVERY`` and at the end, also when interrupted
    (Ctrl-C in a notebook): what was fetched is never asked for again in vain.
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
    done = 0
    try:
        futures = {pool.submit(_fetch_one, client, sms_id): sms_id for sms_id in order}
        for future in as_completed(futures):
            result = future.result()
            if isinstance(result, StatusDetail):
                unsaved.append(result)
                if len(unsaved) >= _SAVE_EVERY:
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


def _status_frame(ids: list[str], journal: Journal, errors: dict[str, str]) -> pd.DataFrame:
    unique = list(dict.fromkeys(ids))
    stored, info = journal.statuses(unique), journal.message_info(unique)
    frame = pd.DataFrame({"sms_id": pd.Series(ids, dtype="object")})
    frame = frame.merge(
        info[["sms_id", "msisdn", "campaign", "sender", "sent_at", "parts"]],
        on="sms_id",
        how="left",
        sort=False,
    )
    frame = frame.merge(
        stored[["sms_id", "state", "changed_at", "num_parts", "price"]],
        on="sms_id",
        how="left",
        sort=False,
    )
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
    return frame[list(STATUS_COLUMNS)]


def wait_for_final(
    client: TargetSMSClient,
    ids_or_campaign: IdsOrCampaign,
    *,
    store: str | Journal | None = None,
    timeout: float = 900.0,
    concurrency: int = 8,
    progress: bool = True,
    poll_interval: float | None = None,
) -> pd.DataFrame:
    """Fetch statuses again at the allowed pace until every one is final or ``timeout`` passes.

    Each round asks only the ids still pending; between rounds it waits for the identical-request
    interval (or ``poll_interval`` if that is longer). No round starts after the deadline: when the
    next one could not, it returns at once. Returns the last status frame.

    Example: ``ts.wait_for_final(client, "spring", timeout=600)["state"].value_counts()``.
    """
    deadline = time.monotonic() + timeout
    with open_journal(store) as journal:
        ids = _resolve_ids(ids_or_campaign, journal)
        bar = _progress(len(set(ids)), progress, "final")
        try:
            while True:
                frame = fetch_statuses(
                    client, ids, store=journal, concurrency=concurrency, progress=False
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
                if time.monotonic() + pause > deadline:
                    return frame  # the next round could not start before the deadline
                time.sleep(pause)
        finally:
            if bar is not None:
                bar.close()
