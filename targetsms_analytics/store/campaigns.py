"""Campaigns and sends: runs, campaigns, message rows, batches (intents and answers), recovery.

A mixin of :class:`~targetsms_analytics.store.base.Journal`; the SQL is common to both backends,
the claim of recipients (:meth:`CampaignsMixin._claim`) and the liveness of runs are the
backends' own.

Example: ``journal.begin_batch("spring", phones, "Hi", 1, sender="SHOP", user=u, url=url)``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from ..errors import InputError
from ._common import (
    CLAIMABLE,
    DEFAULT_ENDPOINT,
    OUTCOMES,
    SEND_OUTCOMES,
    BatchTicket,
    account_of,
    batch_fields,
    expand_contacts,
    iso,
    json_or_none,
    now_utc,
    one_account_per_id,
    os_user,
    pid_alive,
    request_fingerprint,
    text_hash,
    times,
)
from .schema import _BACK_TO_PENDING, _LAUNCH_SQL, _REFUSAL_SQL

__all__ = ["CampaignsMixin"]

# A claimed recipient's row, in flight in its batch: a new one, or the one it had (pending or
# scheduled) taken over; a contact it had stays unless the batch gives one.
_CLAIMED_UPSERT = (
    " ON CONFLICT (account, campaign, msisdn) DO UPDATE SET text = excluded.text,"
    " parts = excluded.parts, sender = excluded.sender, variant = excluded.variant,"
    " contact = COALESCE(excluded.contact, messages.contact), batch = excluded.batch,"
    " status = 'inflight', sms_id = NULL, error_code = NULL, error_text = NULL, sent_at = NULL"
)
_CLAIMED_INSERT = (
    "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, variant, contact,"
    " batch, status, created_at)"
)
_CLAIMED_ROW = (
    _CLAIMED_INSERT + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'inflight', ?)" + _CLAIMED_UPSERT
)

logger = logging.getLogger("targetsms_analytics")


class _Handing:
    """begin_batches' tickets on their way to the caller: those committed are kept here as
    they come, then handed to ``each`` (when there is one); should an error or Ctrl-C come
    meanwhile, :meth:`not_handed` are those to send back to pending (see ``_release``). One
    given to ``each`` is the caller's from then on, never released."""

    def __init__(self, count: int, each: Callable[[int, BatchTicket], Any] | None) -> None:
        self.out: list[BatchTicket | None] = [None] * count
        self.handed: set[int] = set()
        self.each = each

    def hand(self, made: dict[int, BatchTicket], *, give: bool = True) -> None:
        """Tickets committed together (batch index -> ticket): all kept first, so that a
        Ctrl-C in ``each`` sends back those not handed yet, then each handed over; with
        ``give`` False (committed as the call was being interrupted) kept only."""
        for k, ticket in made.items():
            self.out[k] = ticket
        for k, ticket in made.items() if self.each is not None and give else ():
            # (marked first: should Ctrl-C land in `each`, the batch stays in flight, and comes
            # back unknown, rather than go back to pending while its request may go)
            self.handed.add(k)
            self.each(k, ticket)

    def not_handed(self) -> list[BatchTicket | None]:
        return [t for k, t in enumerate(self.out) if k not in self.handed]

    def tickets(self) -> list[BatchTicket]:
        """The tickets kept, in batch order (a batch with none left out)."""
        return [t for t in self.out if t is not None]


def _log_answer_error(batch_id: int) -> Callable[[BaseException], None]:
    def report(exc: BaseException) -> None:
        logger.error("batch %d: could not journal its answer: %s", batch_id, exc)

    return report


class CampaignsMixin:
    """Campaigns and sends (see the module docstring)."""

    # ------------------------------------------------------------ campaigns and runs

    def begin_run(self, campaign: str | None = None, *, account: str | None = None) -> str:
        """Register a sending run of this process; its in-flight batches are not orphans.

        The registration lives in the journal, not in the process: any ``Journal`` of this file
        sees the run alive until :meth:`end_run`.

        Example: ``token = journal.begin_run("spring", account=a); ...; journal.end_run(token)``.
        """
        token = uuid.uuid4().hex
        self._register_run(token, (
            "INSERT INTO runs (token, account, campaign, pid, host, os_user, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (token, account, campaign, os.getpid(), socket.gethostname(), os_user(),
             iso(now_utc())),
        ))  # fmt: skip
        return token

    def _register_run(self, token: str, row: tuple[str, Sequence[Any]]) -> None:
        """Write the run's ``row`` (sql, params), then make its liveness visible to others
        (:meth:`_run_started`). PostgreSQL writes it with the run's lock, in one transaction."""
        self._write([row])
        self._run_started(token)

    def _run_started(self, token: str) -> None:
        """Backend hook, once the run's row is written (SQLite: its WAL checkpoints)."""

    def _run_ended(self, token: str) -> None:
        """Backend hook: the run is over."""

    def end_run(self, token: str) -> None:
        """Mark a run started with :meth:`begin_run` as over.

        Example: ``journal.end_run(token)``.
        """
        try:
            self._write([("UPDATE runs SET ended_at = ? WHERE token = ?", (iso(now_utc()), token))])
        finally:
            self._run_ended(token)

    def ensure_campaign(
        self,
        name: str,
        *,
        account: str | None = None,
        user: str | None = None,
        url: str | None = None,
        sender: str | None = None,
        template: str = "",
    ) -> str:
        """Create the campaign row if it does not exist. An existing one keeps its values, unless
        nobody in it was sent anything yet (a sender or text the service refused, corrected):
        then it takes ``sender`` and ``template``, when both are given.

        ``account`` defaults to :func:`account_of` ``(user, url)`` (``url``: the default endpoint).
        Returns the account.

        Example: ``journal.ensure_campaign("spring", user="demo", url=client.url, sender="SHOP")``.
        """
        return self.create_campaign(
            name, account=account, user=user, url=url, sender=sender, template=template
        )[0]

    def create_campaign(
        self,
        name: str,
        *,
        account: str | None = None,
        user: str | None = None,
        url: str | None = None,
        sender: str | None = None,
        template: str = "",
    ) -> tuple[str, tuple[int, str] | None]:
        """As :meth:`ensure_campaign`, in the same one transaction: ``(account, mark)``, where
        ``mark`` is the campaign's :meth:`activity` mark when this call created its row (it
        had no batch or record then: nothing to read back or recover), else None.

        Example: ``account, new = journal.create_campaign("spring", user="demo", url=u)``.
        """
        if account is None:
            if user is None:
                raise InputError(text="a campaign needs its account (or user and url)")
            account = account_of(user, url or DEFAULT_ENDPOINT)
        now = iso(now_utc())
        sql, params = self._campaign_row(account, name, user, url, sender, template, now)
        statements = [(f"{sql} RETURNING updated_at", params)]
        if sender is not None and template:
            statements.append((
                "UPDATE campaigns SET sender = ?, template = ?, updated_at = ?"
                " WHERE account = ? AND name = ?"
                " AND (COALESCE(sender, '') <> ? OR COALESCE(template, '') <> ?)"
                " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.account = ?"
                " AND m.campaign = ? AND m.status NOT IN ('pending', 'scheduled', 'holdout'))",
                (sender, template, now, account, name, sender, template, account, name),
            ))  # fmt: skip
        created = self._write(statements, returning=True)
        self._known_campaigns.add((account, name))  # its batches need not insert it again
        return account, ((0, created[0][0]) if created else None)

    @staticmethod
    def _campaign_row(
        account: str,
        name: str,
        user: str | None,
        url: str | None,
        sender: str | None,
        template: str | None,
        now: str | None,
    ) -> tuple[str, tuple[Any, ...]]:
        """The statement that inserts the campaign's row unless it has one: (sql, params)."""
        return (
            "INSERT INTO campaigns (account, name, login, endpoint, sender, template,"
            " os_user, os_host, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (account, name) DO NOTHING",
            (
                account, name, user, None if url is None else url.split("?", 1)[0], sender,
                template, os_user(), socket.gethostname(), now, now,
            ),
        )  # fmt: skip

    def campaign_info(self, name: str, *, account: str | None = None) -> dict[str, Any] | None:
        """The campaign row as a dict (name, account, user, sender, template, created_at…), or None.

        A name that several accounts use needs ``account`` (else ``InputError``).

        Example: ``journal.campaign_info("spring")["sender"]``.
        """
        account = self.resolve_account(name, account)
        if account is None:
            return None
        rows = self._query(
            "SELECT * FROM campaigns WHERE account = ? AND name = ?", (account, name)
        )
        info = dict(rows[0])
        info["user"] = info.pop("login", None)
        return info

    def campaigns(self) -> pd.DataFrame:
        """One row per campaign of every account: who and when, and messages per status.

        Columns: ``campaign, account, user, sender, os_user, os_host, created_at, updated_at,
        messages, sent, queued, rejected, duplicate, unknown, scheduled, holdout, inflight,
        pending, parts, batches, sent_by, first_run_at, last_run_at`` (``os_user``/``os_host``:
        who created it, on which machine; ``sent_by``: every ``os_user@host`` that ran a send of
        it, comma-separated; the run times span those sends).

        Example: ``journal.campaigns().set_index(["account", "campaign"])["sent"]``.
        """
        rows = self._query(
            """
            SELECT c.name AS campaign, c.account, c.login AS "user", c.sender, c.os_user,
                   c.os_host, c.created_at,
                   (SELECT MAX(COALESCE(b.finished_at, b.started_at)) FROM batches b
                    WHERE b.account = c.account AND b.campaign = c.name) AS last_batch,
                   c.updated_at,
                   COUNT(m.msisdn) AS messages,
                   SUM(CASE WHEN m.status = 'sent' THEN 1 ELSE 0 END) AS sent, SUM(CASE WHEN m.status = 'queued' THEN 1 ELSE 0 END) AS queued,
                   SUM(CASE WHEN m.status = 'rejected' THEN 1 ELSE 0 END) AS rejected,
                   SUM(CASE WHEN m.status = 'duplicate' THEN 1 ELSE 0 END) AS duplicate,
                   SUM(CASE WHEN m.status = 'unknown' THEN 1 ELSE 0 END) AS unknown,
                   SUM(CASE WHEN m.status = 'scheduled' THEN 1 ELSE 0 END) AS scheduled,
                   SUM(CASE WHEN m.status = 'holdout' THEN 1 ELSE 0 END) AS holdout,
                   SUM(CASE WHEN m.status = 'inflight' THEN 1 ELSE 0 END) AS inflight,
                   SUM(CASE WHEN m.status = 'pending' THEN 1 ELSE 0 END) AS pending,
                   SUM(CASE WHEN m.status = 'sent' THEN m.parts ELSE 0 END) AS parts,
                   (SELECT COUNT(*) FROM batches b
                    WHERE b.account = c.account AND b.campaign = c.name) AS batches
            FROM campaigns c
            LEFT JOIN messages m ON m.account = c.account AND m.campaign = c.name
            GROUP BY c.account, c.name, c.login, c.sender, c.os_user, c.os_host, c.created_at,
                     c.updated_at
            ORDER BY c.created_at, c.name, c.account
            """
        )
        rows = [(*r[:7], max(r[8], r[7] or ""), *r[9:]) for r in rows]
        cols = [
            "campaign", "account", "user", "sender", "os_user", "os_host", "created_at",
            "updated_at", "messages", "sent", "queued", "rejected", "duplicate", "unknown",
            "scheduled", "holdout", "inflight", "pending", "parts", "batches",
        ]  # fmt: skip
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        for col in cols[8:]:
            frame[col] = frame[col].fillna(0).astype("int64")
        runs = self._query(
            "SELECT account, campaign, os_user, host, MIN(started_at),"
            " MAX(COALESCE(ended_at, started_at)) FROM runs"
            " GROUP BY account, campaign, os_user, host ORDER BY MIN(started_at)"
        )
        who: dict[tuple[str, str], list[str]] = {}
        first: dict[tuple[str, str], str] = {}
        last: dict[tuple[str, str], str] = {}
        for account, name, user, host, started, ended in runs:
            key = (account, name)
            who.setdefault(key, []).append(f"{user or '?'}@{host or '?'}")
            first[key] = min(first.get(key, started), started)
            last[key] = max(last.get(key, ended), ended)
        keys = list(zip(frame["account"], frame["campaign"], strict=True))
        frame["sent_by"] = pd.Series([", ".join(who.get(k, [])) for k in keys], dtype=object)
        frame["first_run_at"] = [first.get(k) for k in keys]
        frame["last_run_at"] = [last.get(k) for k in keys]
        for col in ("created_at", "updated_at", "first_run_at", "last_run_at"):
            frame[col] = times(frame[col])
        return frame

    # ------------------------------------------------------------ messages

    _MESSAGE_SQL = """
        SELECT m.sms_id, m.msisdn, m.campaign, m.account, m.sender, m.text, m.parts, m.sent_at,
               m.status AS outcome, m.error_code, m.error_text, m.batch, m.created_at,
               m.variant, m.not_before, m.contact
        FROM messages m
    """
    _MESSAGE_COLS = (
        "sms_id", "msisdn", "campaign", "account", "sender", "text", "parts", "sent_at", "outcome",
        "error_code", "error_text", "batch", "created_at", "variant", "not_before", "contact",
    )  # fmt: skip

    def _message_frame(self, rows: list[Any]) -> pd.DataFrame:
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(self._MESSAGE_COLS))
        frame["parts"] = frame["parts"].astype("Int64")
        frame["batch"] = frame["batch"].astype("Int64")
        frame["sent_at"] = times(frame["sent_at"])
        frame["created_at"] = times(frame["created_at"])
        frame["not_before"] = times(frame["not_before"])
        return expand_contacts(frame)

    def _messages_by_id(
        self, ids: Sequence[str], account: str | None, source: str | None = None
    ) -> list[Any]:
        """The message rows of :meth:`message_info`, by id in ``ids``' order, then as recorded;
        ``source``: the FROM clause (default :meth:`_by_sms_id`)."""
        sql = self._MESSAGE_SQL.replace("FROM messages m", source or self._by_sms_id())
        params: list[Any] = [self._ids_param(ids)]
        if account is not None:
            sql += " WHERE m.account = ?"
            params.append(account)
        return self._query(sql + f" ORDER BY j.key, m.{self._seq}", params)

    def _by_sms_id(self) -> str:
        """``_MESSAGE_SQL``'s FROM clause for :meth:`message_info`: ids ``j`` (``value``, ``key``:
        their order), each joined to the messages that have it."""
        return f"FROM {self._ids('j')} {self._cross} messages m ON m.sms_id = j.value"

    def _ids_written(
        self, c: Any, account: str, campaign: str, pairs: Sequence[tuple[str, str]]
    ) -> None:
        """Backend hook, in the transaction that gave these messages (msisdn, sms_id) their ids
        (PostgreSQL keeps them in ``message_ids`` too: a pair whose message did not take the id
        is ignored there)."""

    def campaign_messages(self, campaign: str, *, account: str | None = None) -> pd.DataFrame:
        """Every message row of a campaign, in the order they were first recorded.

        Columns: ``sms_id, msisdn, campaign, account, sender, text, parts, sent_at, outcome,
        error_code, error_text, batch, created_at, variant, not_before``, then one column per key
        of the rows' contact data (the input row's other columns; a key that clashes with a column
        above is left out). ``outcome`` is the journal status (``sent``, ``queued``, ``rejected``,
        ``duplicate``, ``unknown``, ``scheduled``, ``holdout``, or ``inflight``/``pending``).
        A name that several accounts use needs ``account`` (else ``InputError``).

        Example: ``journal.campaign_messages("spring").query("outcome == 'unknown'")``.
        """
        account = self.resolve_account(campaign, account)
        rows = self._query(
            self._MESSAGE_SQL + f" WHERE m.account = ? AND m.campaign = ? ORDER BY m.{self._seq}",
            (account, campaign),
        )
        return self._message_frame(rows)

    def message_info(self, sms_ids: Iterable[str], *, account: str | None = None) -> pd.DataFrame:
        """What the journal knows of these SMS ids: one row per distinct known id, in asked order.

        Same columns as :meth:`campaign_messages`; ids the journal does not know (in ``account``,
        when given) are left out.

        Example: ``journal.message_info(["1178440060"], account="demo@127.0.0.1:8421")["msisdn"]``.
        """
        ids = list(dict.fromkeys(str(i) for i in sms_ids))
        frame = self._message_frame(self._messages_by_id(ids, account))
        if account is None:
            return one_account_per_id(frame)
        return frame.drop_duplicates("sms_id").reset_index(drop=True)

    def records(
        self,
        campaign: str,
        msisdns: Iterable[str] | None = None,
        *,
        account: str | None = None,
        contact: bool = True,
    ) -> dict[str, dict]:
        """The message rows of a campaign keyed by msisdn (all of them, or only ``msisdns``).

        Each value has ``status, sms_id, text, parts, batch, error_code, error_text, sender,
        variant, not_before`` (tz-aware or None) and ``contact`` (a dict or None; left out with
        ``contact=False``, which reads a large campaign faster).

        Example: ``journal.records("spring", account=a)["79001234567"]["status"]``.
        """
        account = self.resolve_account(campaign, account)
        if account is None:
            return {}
        names = self._RECORD_COLS if contact else self._RECORD_COLS[:-1]
        sql = f"SELECT m.msisdn, {', '.join('m.' + n for n in names)} FROM "
        if msisdns is None:
            rows = self._query_tuples(
                sql + "messages m WHERE m.account = ? AND m.campaign = ?", (account, campaign)
            )
        else:
            # CROSS JOIN keeps the list outside: one primary-key look-up per msisdn asked.
            rows = self._query_tuples(
                sql + f"{self._ids('j')} {self._cross} messages m"
                " ON m.account = ? AND m.campaign = ? AND m.msisdn = j.value",
                (self._ids_param(list(msisdns)), account, campaign),
            )
        out: dict[str, dict] = {}
        loads, when = json.loads, datetime.fromisoformat
        at_contact, at_not_before = len(names), names.index("not_before") + 1
        for r in rows:  # by position: a dict per row, not a look-up per column name
            rec = dict(zip(names, r[1:], strict=True))
            if contact and r[at_contact] is not None:
                rec["contact"] = loads(r[at_contact])
            if r[at_not_before] is not None:
                rec["not_before"] = when(r[at_not_before])
            out[r[0]] = rec
        return out

    _RECORD_COLS = (
        "status", "sms_id", "text", "parts", "batch", "error_code", "error_text", "sender",
        "variant", "not_before", "contact",
    )  # fmt: skip

    def set_outcome(
        self,
        campaign: str,
        msisdns: Iterable[str],
        outcome: str,
        *,
        account: str | None = None,
        only_from: Sequence[str] = ("unknown",),
        note: str | None = None,
    ) -> list[str]:
        """Set the status of the given messages that are now in one of ``only_from``.

        ``outcome`` is one of :data:`OUTCOMES` or ``pending`` (sendable again). Returns the
        msisdns changed. Used by the user-facing ``mark_outcome`` / ``resend_unknown``.

        Example: ``journal.set_outcome("spring", ["79001234567"], "sent", note="arrived")``.
        """
        if outcome not in (*OUTCOMES, "pending"):
            raise ValueError(f"outcome must be one of {(*OUTCOMES, 'pending')}, not {outcome!r}")
        account = self.resolve_account(campaign, account)
        if account is None:
            return []
        wanted = list(dict.fromkeys(msisdns))
        marks = ",".join("?" for _ in only_from)
        changed: list[str] = []
        with self._tx() as c:
            rows = c.execute(
                f"SELECT m.msisdn FROM {self._ids('j')} {self._cross} messages m"
                " ON m.account = ? AND m.campaign = ? AND m.msisdn = j.value"
                f" WHERE m.status IN ({marks}) ORDER BY j.key",
                (self._ids_param(wanted), account, campaign, *only_from),
            ).fetchall()
            changed = [r[0] for r in rows]
            where = (
                " WHERE account = ? AND campaign = ?"
                f" AND msisdn IN (SELECT value FROM {self._ids('k')})"
            )
            if outcome == "pending":
                c.execute(
                    "UPDATE messages SET status = 'pending', batch = NULL, sms_id = NULL,"
                    " error_code = NULL, error_text = NULL, sent_at = NULL" + where,
                    (account, campaign, self._ids_param(changed)),
                )
            else:
                c.execute(
                    "UPDATE messages SET status = ?, error_code = ?, error_text = ?" + where,
                    (outcome, "marked_by_user", note, account, campaign, self._ids_param(changed)),
                )
            self._touch(c, account, campaign)
        return changed

    def hold(self, campaign: str, rows: Iterable[dict[str, Any]], *, account: str) -> int:
        """Record recipients that are not sent now: ``scheduled`` (later) or ``holdout`` (never).

        ``rows``: dicts with ``msisdn, text, parts, sender, variant, status`` (``'scheduled'`` or
        ``'holdout'``), ``not_before`` (a datetime or None) and ``contact`` (a dict or None).
        A row with no record, or one ``pending`` or ``scheduled``, is written (inserted or
        updated); a row with an outcome or in flight is never touched. Returns how many were
        written.

        Example::

            journal.hold("spring", [{"msisdn": "79001234567", "text": "Hi", "parts": 1,
                                     "sender": "SHOP", "variant": None, "status": "holdout",
                                     "not_before": None, "contact": {"city": "Omsk"}}],
                         account="demo@127.0.0.1:8421")
        """
        now = iso(now_utc())
        values = []
        for row in rows:
            status = row.get("status")
            if status not in ("scheduled", "holdout"):
                raise ValueError(f"hold: status must be 'scheduled' or 'holdout', not {status!r}")
            values.append(
                (
                    account, campaign, str(row["msisdn"]), row.get("text") or "",
                    row.get("parts"), row.get("sender"), row.get("variant"),
                    json_or_none(row.get("contact")), iso(row.get("not_before")), status, now,
                )
            )  # fmt: skip
        if not values:
            return 0
        # Rows are written in msisdn order, the order PostgreSQL's prepare() inserts them in:
        # two senders writing the same rows in different orders would wait for each other.
        sender = values[0][5]
        values.sort(key=lambda v: v[2])
        with self._tx() as c:
            c.execute(*self._campaign_row(account, campaign, None, None, sender, None, now))
            written = self._write_held(c, values)
            self._touch(c, account, campaign)
        return written

    def _write_held(self, c: Any, values: list[tuple[Any, ...]]) -> int:
        """hold()'s rows, in the caller's transaction; returns how many were written. SQLite has
        one writer at a time: one upsert per row."""
        cur = c.executemany(
            "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, variant,"
            " contact, not_before, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (account, campaign, msisdn) DO UPDATE SET text = excluded.text,"
            " parts = excluded.parts, sender = excluded.sender, variant = excluded.variant,"
            " contact = excluded.contact, not_before = excluded.not_before,"
            " status = excluded.status, batch = NULL"
            " WHERE messages.status IN ('pending', 'scheduled')",
            values,
        )
        return max(int(cur.rowcount), 0)

    # ------------------------------------------------------------ batches

    def begin_batch(
        self,
        campaign: str,
        phones: Sequence[str],
        text: str,
        parts: int | None,
        *,
        sender: str,
        user: str,
        url: str,
        parent: int | None = None,
        token: str | None = None,
        variant: str | None = None,
        contacts: dict[str, dict[str, Any]] | None = None,
        account: str | None = None,
        reserved: bool = False,
        resend: bool = False,
    ) -> BatchTicket:
        """Claim ``phones`` for a request and commit the batch as in flight, before the request.

        Within one ``BEGIN IMMEDIATE`` transaction: the phones with no message row, or a
        ``pending`` or ``scheduled`` one, are claimed (status ``inflight``); phones that another
        run holds, ``holdout`` ones and those with an outcome are left out. The batch row keeps the
        claimed recipients, the text's hash, a fingerprint of the request without the password,
        the ``variant``, and this process's pid, host and run ``token``; each message keeps its
        ``variant`` and ``contacts[msisdn]`` (the input row's other columns, as JSON).
        ``account`` defaults to :func:`account_of` ``(user, url)``. Returns the ticket;
        ``ticket.phones`` may be empty (nothing to send). ``reserved=True`` claims them ahead of
        the request (batch state ``reserved``): :meth:`launch_batch` puts it in flight just
        before the request; one whose run is gone goes back to pending (never sent), see
        :meth:`recover_inflight`. ``resend=True`` (``resend_unknown``: a lost request repeated)
        claims the phones that are ``unknown`` as well, in the same transaction: they never
        stand ``pending`` on their own, for the next run (or another sender) to send again in
        another request, which the service would not know for a repeat.

        Example: ``journal.begin_batch("c", ["79001234567"], "Hi", 1, sender="SHOP", user="demo",
        url=client.url)``.
        """
        account = account or account_of(user, url)
        work = self._intent_work(
            account, campaign, phones, text, parts, sender=sender, user=user, url=url,
            parent=parent, token=token, variant=variant, contacts=contacts, reserved=reserved,
            resend=resend,
        )  # fmt: skip
        done = self._grouped(work, durable=True, rows=work.rows)
        return self._ticket(account, campaign, done, reserved)

    def begin_batches(
        self,
        campaign: str,
        batches: Sequence[Mapping[str, Any]],
        *,
        sender: str,
        user: str,
        url: str,
        token: str | None = None,
        account: str | None = None,
        prepare: Sequence[tuple[str, str, str | None, int | None]] | None = None,
        each: Callable[[int, BatchTicket], Any] | None = None,
    ) -> list[BatchTicket]:
        """:meth:`begin_batch` for several batches at once, in one transaction (one commit, one
        flush to disk): the intents of a run's first requests, which go out together.
        ``prepare``: the run's recipients, as :meth:`prepare` takes them, given their rows
        first (PostgreSQL writes a new campaign's rows with these intents, each row once).
        ``each(index, ticket)`` is called for each batch once its intent is committed: here
        all at once after the one commit; PostgreSQL, for a new campaign, hands the first
        requests' tickets over a few at a time, as soon as their transaction is committed (see
        ``PostgresJournal._prepare_and_begin``). A ticket handed to ``each`` is the caller's:
        should a later batch fail (or Ctrl-C come), it is not taken back; those not handed yet
        go back to pending.

        Each of ``batches`` maps ``phones``, ``text``, ``parts`` and optionally ``variant``,
        ``contacts`` and ``parent`` as :meth:`begin_batch` takes them; the tickets come back in
        the same order, each as :meth:`begin_batch` would have answered it (a batch whose
        recipients someone else claimed meanwhile has fewer phones, or none).

        Example: ``a, b = journal.begin_batches("c", [{"phones": ["79001234567"], "text": "Hi",
        "parts": 1}, {"phones": ["79007654321"], "text": "Hi", "parts": 1}], sender="SHOP",
        user="demo", url=client.url)``.
        """
        account = account or account_of(user, url)
        if prepare is not None:
            self.prepare(campaign, prepare, account=account)
        works = [
            self._intent_work(
                account, campaign, **batch_fields(b), sender=sender, user=user, url=url,
                token=token,
            )
            for b in batches
        ]  # fmt: skip
        if not works:
            return []
        results = self._grouped(
            lambda c: [work(c) for work in works],
            durable=True,
            rows=sum(work.rows for work in works),
        )
        handing = _Handing(len(batches), each)
        try:
            handing.hand({
                k: self._ticket(account, campaign, r, bool(b.get("reserved")))
                for k, (r, b) in enumerate(zip(results, batches, strict=True))
            })  # fmt: skip
        except BaseException:
            self._release(campaign, handing.not_handed())
            raise
        return handing.tickets()

    def _release(self, campaign: str, tickets: Sequence[BatchTicket | None]) -> None:
        """Committed intents whose tickets never reach the caller: back to pending."""
        for ticket in tickets:
            if ticket is not None and ticket.id and ticket.phones:
                try:
                    self.finish_batch(ticket.id, "pending", phones=ticket.phones)
                except Exception as exc:  # it stays in flight: unknown, never resent
                    logger.error("%s: batch %d could not go back to pending: %s",
                                 campaign, ticket.id, exc)  # fmt: skip

    def _ticket(
        self,
        account: str,
        campaign: str,
        result: tuple[int, list[str], str, str | None],
        reserved: bool = False,
    ) -> BatchTicket:
        batch_id, claimed, fingerprint, refused = result
        if batch_id:
            self._known_campaigns.add((account, campaign))
        refused_at = None if refused is None else datetime.fromisoformat(refused)
        return BatchTicket(batch_id, claimed, fingerprint, refused_at, reserved and bool(batch_id))

    def _intent_work(
        self,
        account: str,
        campaign: str,
        phones: Sequence[str],
        text: str,
        parts: int | None,
        *,
        sender: str,
        user: str,
        url: str,
        parent: int | None,
        token: str | None,
        variant: str | None,
        contacts: dict[str, dict[str, Any]] | None,
        reserved: bool = False,
        resend: bool = False,
    ) -> Any:
        """A batch's intent (see :meth:`begin_batch`) as a function of the connection, its
        ``rows`` the recipients it claims at most (its share of a group commit)."""
        contacts = contacts or {}
        wanted = list(dict.fromkeys(phones))

        def work(c: Any) -> tuple[int, list[str], str, str | None]:
            now = iso(now_utc())
            if resend:  # the lost request's recipients: claimable in this transaction only
                c.execute(
                    "UPDATE messages SET status = 'pending' WHERE account = ? AND campaign = ?"
                    f" AND msisdn IN (SELECT value FROM {self._ids('k')}) AND status = 'unknown'",
                    (account, campaign, self._ids_param(wanted)),
                )
                self._touch(c, account, campaign)
            claimed = self._claim(c, account, campaign, wanted, text, parts, sender, now)
            fingerprint = request_fingerprint(url, user, sender, claimed, text)
            if not claimed:
                return 0, [], fingerprint, None
            refused = c.execute(_REFUSAL_SQL, (fingerprint,)).fetchone()[0]
            if (account, campaign) not in self._known_campaigns:
                c.execute(*self._campaign_row(account, campaign, user, url, sender, None, now))
            batch_id = int(
                c.execute(
                    "INSERT INTO batches (account, campaign, parent, state, recipients, size,"
                    " text_hash, fingerprint, sender, variant, owner_pid, owner_host,"
                    " owner_token, started_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        account, campaign, parent, "reserved" if reserved else "inflight",
                        json.dumps(claimed), len(claimed),
                        text_hash(text), fingerprint, sender, variant, os.getpid(),
                        socket.gethostname(), token, now,
                    ),
                ).fetchone()[0]
            )  # fmt: skip
            self._claimed_rows(
                c, (account, campaign, text, parts, sender, variant, batch_id, now),
                [(p, json_or_none(contacts.get(p))) for p in claimed],
            )  # fmt: skip
            return batch_id, claimed, fingerprint, refused

        work.rows = len(wanted)  # type: ignore[attr-defined]
        return work

    def _claimed_rows(
        self, c: Any, batch: tuple[Any, ...], rows: Sequence[tuple[str, str | None]]
    ) -> None:
        """A batch's claimed recipients, in flight (``rows``: msisdn and contact JSON, in
        order; ``batch``: account, campaign, text, parts, sender, variant, batch id, now): a
        row each, or the row they had (see :meth:`begin_batch`). SQLite writes several in one
        statement."""
        account, campaign, text, parts, sender, variant, batch_id, now = batch
        c.executemany(
            _CLAIMED_ROW,
            [(account, campaign, p, text, parts, sender, variant, contact, batch_id, now)
             for p, contact in rows],
        )  # fmt: skip

    def launch_batch(self, batch_id: int, *, token: str | None = None) -> bool:
        """Put a reserved batch (``begin_batch(reserved=True)``) in flight, committed to disk
        before its request as an intent is; False when it is reserved no longer (its run was
        taken for gone and its recipients went back to pending, see :meth:`recover_inflight`):
        then its request must not be sent. ``token``: the run's (PostgreSQL: a run whose lock
        is gone launches nothing).

        Example: ``if journal.launch_batch(ticket.id, token=token): client.send(...)``.
        """

        def work(c: Any) -> bool:
            return bool(c.execute(_LAUNCH_SQL, (iso(now_utc()), batch_id)).fetchall())

        return bool(self._grouped(work, durable=True))

    def prepare(
        self,
        campaign: str,
        items: Sequence[tuple[str, str, str | None, int | None]],
        *,
        account: str,
    ) -> None:
        """Tell the store which recipients a run is about to send (``(msisdn, sender, text,
        parts)``). SQLite needs nothing; PostgreSQL creates their rows up front.

        Example: ``journal.prepare("spring", [("79001234567", "SHOP", "Hi", 1)], account=a)``.
        """

    def _claim(
        self,
        c: Any,
        account: str,
        campaign: str,
        phones: list[str],
        text: str,
        parts: int | None,
        sender: str,
        now: str | None,
    ) -> list[str]:
        """The phones (in order) this transaction may send: no row, or ``pending``/``scheduled``.

        This version relies on the transaction being the only writer (SQLite's ``BEGIN
        IMMEDIATE``); PostgreSQL overrides it with row locks (``FOR UPDATE SKIP LOCKED``).
        """
        have = {
            r[0]: r[1]
            for r in c.execute(
                f"SELECT m.msisdn, m.status FROM {self._ids('j')} {self._cross} messages m"
                " ON m.account = ? AND m.campaign = ? AND m.msisdn = j.value",
                (self._ids_param(phones), account, campaign),
            ).fetchall()
        }
        return [p for p in phones if have.get(p, "pending") in CLAIMABLE]

    def activity(self, campaign: str, *, account: str) -> tuple[int, str | None]:
        """A mark of the campaign's state: its newest batch and its ``updated_at`` (which every
        mark, resend, hold and release changes). See :meth:`changed_since`.

        Example: ``mark = journal.activity("spring", account=a)``.
        """
        row = self._query(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM batches WHERE account = ? AND campaign = ?),"
            " (SELECT updated_at FROM campaigns WHERE account = ? AND name = ?)",
            (account, campaign, account, campaign),
        )[0]
        return int(row[0]), row[1]

    def changed_since(
        self, campaign: str, mark: tuple[int, str | None], *, account: str, token: str
    ) -> bool:
        """Whether anyone but run ``token`` changed the campaign since :meth:`activity` gave
        ``mark``: a batch of another run, or a mark, resend, hold or release of its messages.
        (A batch another run had in flight before the mark is not seen here: its messages were
        ``inflight`` then.)

        Example: ``journal.changed_since("spring", mark, account=a, token=token)``.
        """
        # (one query: the campaign's updated_at, and whether another run has a batch since)
        updated_at, other = self._query(
            "SELECT (SELECT updated_at FROM campaigns WHERE account = ? AND name = ?),"
            " EXISTS (SELECT 1 FROM batches WHERE account = ? AND campaign = ? AND id > ?"
            " AND (owner_token IS NULL OR owner_token <> ?))",
            (account, campaign, account, campaign, mark[0], token),
        )[0]
        return updated_at != mark[1] or bool(other)

    def recent_refusals(self, since: datetime) -> dict[str, datetime]:
        """Requests the service refused at or after ``since``: fingerprint -> when (the latest).

        Example: ``journal.recent_refusals(now - timedelta(seconds=61))``.
        """
        rows = self._query(
            "SELECT fingerprint, MAX(finished_at) FROM batches WHERE finished_at >= ?"
            " AND state IN ('failed', 'split') AND answer_code IS NOT NULL"
            " AND answer_code NOT IN ('transport', 'invalid_input') GROUP BY fingerprint",
            (iso(since),),
        )
        return {r[0]: datetime.fromisoformat(r[1]) for r in rows}

    def last_refusal(self, fingerprint: str) -> datetime | None:
        """When the service last refused this very request (see :func:`request_fingerprint`).

        A refusal - the campaign stopped, or the batch was split - still opened the service's
        identical-request window, so the same request sent again must wait it out. None when the
        request was never refused.

        Example: ``journal.last_refusal(request_fingerprint(url, user, sender, phones, text))``.
        """
        value = self._query(_REFUSAL_SQL, (fingerprint,))[0][0]
        return None if value is None else datetime.fromisoformat(value)

    def finish_batch(
        self,
        batch_id: int,
        outcome: str,
        *,
        sms_ids: Sequence[str] | None = None,
        error_code: str | None = None,
        error_text: str | None = None,
        phones: Sequence[str] | None = None,
        wait: bool = True,
        on_error: Callable[[BaseException], Any] | None = None,
    ) -> None:
        """Commit a batch's answer, right after its request.

        ``outcome``: ``sent`` (``sms_ids`` in the batch's phone order), ``queued``, ``rejected``,
        ``duplicate`` or ``unknown`` for every message of the batch; ``split`` when the service
        refused the batch for a recipient and it will be sent again in halves, or ``pending`` when
        the request certainly did not go out or the campaign stops (both: its messages become
        sendable again, before any half is journaled; the batch keeps the answer as ``split`` or
        ``failed``). Messages of the batch that another run has since re-claimed are left alone.
        ``phones``: the batch's recipients as claimed (``ticket.phones``), which saves a read.

        ``wait=False`` (a final outcome only: not ``split`` or ``pending``, whose recipients are
        claimed again at once) hands the answer to the journal's answer writer and returns at
        once: a sender goes on to its next request while the answer is committed, usually
        together with other senders' intents. :meth:`flush` waits for those writes;
        ``on_error(exc)`` hears of one that failed (the batch then stays in flight: ``unknown``).

        Example: ``journal.finish_batch(ticket.id, "rejected", error_code="phone_stop_listed")``.
        """
        work = self._answer_work(batch_id, outcome, sms_ids, error_code, error_text, phones)
        rows = 1 if phones is None else len(phones)
        if wait or outcome in ("pending", "split"):
            self._commit_answer(work, rows=rows)
        else:
            self._defer(work, on_error or _log_answer_error(batch_id), rows=rows)

    def _commit_answer(self, work: Callable[[Any], None], *, rows: int = 1) -> None:
        self._grouped(work, rows=rows)

    def _answer_work(
        self,
        batch_id: int,
        outcome: str,
        sms_ids: Sequence[str] | None,
        error_code: str | None,
        error_text: str | None,
        phones: Sequence[str] | None,
    ) -> Callable[[Any], None]:
        """The write of a batch's answer, as a function of the connection (see finish_batch)."""
        if outcome not in (*SEND_OUTCOMES, "pending", "split"):
            raise ValueError(f"unknown outcome {outcome!r}")
        if (
            outcome == "sent"
            and phones is not None
            and (sms_ids is None or len(sms_ids) != len(phones))
        ):
            raise ValueError(f"batch {batch_id}: {len(phones)} phones, ids {sms_ids!r}")

        def work(c: Any) -> None:
            now = iso(now_utc())
            recipients = phones
            if recipients is None:
                row = c.execute(
                    "SELECT recipients FROM batches WHERE id = ?", (batch_id,)
                ).fetchone()
                if row is None:
                    raise KeyError(f"no batch {batch_id}")
                recipients = json.loads(row[0])
            if outcome == "sent":
                if sms_ids is None or len(sms_ids) != len(recipients):
                    n = len(recipients)
                    raise ValueError(f"batch {batch_id}: {n} phones, ids {sms_ids!r}")
                # By primary key (account, campaign, msisdn): by the batch index, each of a
                # batch's n updates would look at all n of its rows. The key's first two parts
                # are read once, not once per row.
                key = c.execute(
                    "SELECT account, campaign FROM batches WHERE id = ?", (batch_id,)
                ).fetchone()
                if key is None:
                    raise KeyError(f"no batch {batch_id}")
                pairs = [(p, str(i)) for p, i in zip(recipients, sms_ids, strict=True)]
                c.executemany(
                    "UPDATE messages SET status = 'sent', sms_id = ?, error_code = NULL,"
                    " error_text = NULL, sent_at = ? WHERE account = ? AND campaign = ?"
                    " AND msisdn = ? AND batch = ?",
                    [(i, now, key[0], key[1], p, batch_id) for p, i in pairs],
                )
                self._ids_written(c, key[0], key[1], pairs)
                state = "done"
            elif outcome in ("pending", "split"):
                c.execute(_BACK_TO_PENDING, (batch_id,))
                state = "split" if outcome == "split" else "failed"
            elif outcome in SEND_OUTCOMES:
                c.execute(
                    "UPDATE messages SET status = ?, error_code = ?, error_text = ?,"
                    " sent_at = CASE WHEN ? = 'queued' THEN ? ELSE sent_at END WHERE batch = ?",
                    (outcome, error_code, error_text, outcome, now, batch_id),
                )
                state = "unknown" if outcome == "unknown" else "done"
            else:
                raise ValueError(f"unknown outcome {outcome!r}")
            cur = c.execute(
                "UPDATE batches SET state = ?, finished_at = ?, answer_code = ?, answer_text = ?"
                " WHERE id = ?",
                (state, now, error_code, error_text, batch_id),
            )
            if cur.rowcount == 0:
                raise KeyError(f"no batch {batch_id}")

        return work

    def batches(self, campaign: str | None = None, *, account: str | None = None) -> pd.DataFrame:
        """The batch rows (one per request or intended request), oldest first.

        Columns: ``id, account, campaign, parent, state, size, recipients (list), text_hash,
        fingerprint, sender, variant, owner_pid, owner_host, started_at, finished_at,
        answer_code, answer_text``.

        Example: ``journal.batches("spring")["state"].value_counts()``.
        """
        cols = [
            "id", "account", "campaign", "parent", "state", "size", "recipients", "text_hash",
            "fingerprint", "sender", "variant", "owner_pid", "owner_host", "started_at",
            "finished_at", "answer_code", "answer_text",
        ]  # fmt: skip
        sql = f"SELECT {', '.join(cols)} FROM batches"
        if campaign is None:
            rows = self._query(sql + " ORDER BY id")
        else:
            account = self.resolve_account(campaign, account)
            rows = self._query(
                sql + " WHERE account = ? AND campaign = ? ORDER BY id", (account, campaign)
            )
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        frame["parent"] = frame["parent"].astype("Int64")
        frame["recipients"] = frame["recipients"].map(json.loads)
        frame["started_at"] = times(frame["started_at"])
        frame["finished_at"] = times(frame["finished_at"])
        return frame

    def recover_inflight(
        self,
        campaign: str | None = None,
        *,
        account: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Turn in-flight batches whose owner is gone into ``unknown``, and reserved ones (never
        sent) back to pending; return how many.

        A batch is orphaned when its owner process on this host no longer exists, when it belongs
        to this process but to no live run (an interrupted call: its run ended, see
        :meth:`begin_run`), or when it started more than ``stale_after`` seconds ago (owners on
        other hosts cannot be checked). Its request may have reached the service, so its messages
        become ``unknown`` (``error_code='interrupted'``), never resent automatically. A reserved
        batch's request was never sent (it goes in flight first, see :meth:`launch_batch`): its
        messages become ``pending`` again and the batch ``failed``, for any sender to send.

        Example: ``journal.recover_inflight("spring", account=a)``.
        """
        now_dt = now or now_utc()
        sql = (
            "SELECT b.id, b.state, b.owner_pid, b.owner_host, b.owner_token, b.started_at,"
            " CASE WHEN r.token IS NOT NULL AND r.ended_at IS NULL THEN 1 ELSE 0 END AS live,"
            f" {self._lock_key_column} AS lock_key"
            " FROM batches b LEFT JOIN runs r ON r.token = b.owner_token"
            " WHERE b.state IN ('inflight', 'reserved')"
        )
        params: list[Any] = []
        if campaign is not None:
            sql += " AND b.campaign = ?"
            params.append(campaign)
            if account is not None:
                sql += " AND b.account = ?"
                params.append(account)
        rows = self._query(sql, params)
        orphans = [(r["id"], r["state"]) for r in rows if self._orphaned(r, now_dt)]
        text = "the sending process stopped before the answer was journaled"
        recovered = 0
        for batch_id, state in orphans:
            with self._tx() as c:
                # Re-check under the write lock: the owner may have finished meanwhile, or
                # launched its reserved batch (in flight now, and maybe answered soon: it is
                # looked at again next time, never made unknown under its sender's feet).
                still = c.execute(
                    "SELECT state FROM batches WHERE id = ? AND state = ?" + self._for_update,
                    (batch_id, state),
                ).fetchone()
                if still is None:
                    continue
                recovered += 1
                if state == "reserved":
                    c.execute(_BACK_TO_PENDING, (batch_id,))
                    c.execute(
                        "UPDATE batches SET state = 'failed', finished_at = ?, answer_text = ?"
                        " WHERE id = ? AND state = 'reserved'",
                        (iso(now_dt), "reserved by a sender that stopped first: never sent",
                         batch_id),
                    )  # fmt: skip
                    continue
                c.execute(
                    "UPDATE messages SET status = 'unknown', error_code = 'interrupted',"
                    " error_text = ? WHERE batch = ? AND status = 'inflight'",
                    (text, batch_id),
                )
                c.execute(
                    "UPDATE batches SET state = 'unknown', finished_at = ?,"
                    " answer_code = 'interrupted', answer_text = ? WHERE id = ?"
                    " AND state = 'inflight'",
                    (iso(now_dt), text, batch_id),
                )
        return recovered

    #: ``runs`` column naming a run's lock (PostgreSQL), or NULL.
    _lock_key_column = "NULL"
    #: Locks a row read in a write transaction until it ends (PostgreSQL; SQLite's transaction
    #: is the only writer anyway).
    _for_update = ""

    def _orphaned(self, row: Any, now: datetime) -> bool:
        """Whether an in-flight batch's owner is gone: its run ended, its process on this host
        died, or it is older than ``stale_after`` (owners elsewhere cannot be checked here)."""
        age = (now - pd.Timestamp(row["started_at"]).to_pydatetime()).total_seconds()
        if age > self.stale_after:
            return True
        if row["owner_host"] != socket.gethostname():
            return False
        if row["owner_pid"] == os.getpid():
            return not row["live"]
        return not pid_alive(int(row["owner_pid"]))

    def _touch(self, c: Any, account: str, campaign: str) -> None:
        c.execute(
            "UPDATE campaigns SET updated_at = ? WHERE account = ? AND name = ?",
            (iso(now_utc()), account, campaign),
        )
