"""Schema and numbered migrations of both backends; the version lives in ``schema_version``.

Entry ``i`` of a backend's list takes its schema from version ``i`` to ``i + 1``; append, never
edit. SQLite starts from the 0.1 schema (version 1) and moves it to accounts (version 2);
PostgreSQL arrived with version 2, so its version 1 is empty. A journal of a version newer than
this code knows is refused before anything is written.

Example: ``len(SQLITE_MIGRATIONS) == len(POSTGRES_MIGRATIONS) == SCHEMA_VERSION``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._common import DEFAULT_ENDPOINT, account_of, request_fingerprint

__all__ = ["POSTGRES_MIGRATIONS", "SCHEMA_VERSION", "SQLITE_MIGRATIONS", "Migration"]

_V1 = """
CREATE TABLE campaigns (
    name        TEXT PRIMARY KEY,
    user        TEXT,
    sender      TEXT,
    template    TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE batches (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign     TEXT NOT NULL REFERENCES campaigns(name),
    parent       INTEGER REFERENCES batches(id),
    state        TEXT NOT NULL,
    recipients   TEXT NOT NULL,
    size         INTEGER NOT NULL,
    text_hash    TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    sender       TEXT,
    owner_pid    INTEGER,
    owner_host   TEXT,
    owner_token  TEXT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    answer_code  TEXT,
    answer_text  TEXT
);
CREATE INDEX batches_campaign_state ON batches(campaign, state);
CREATE INDEX batches_fingerprint ON batches(fingerprint);
CREATE TABLE messages (
    campaign    TEXT NOT NULL REFERENCES campaigns(name),
    msisdn      TEXT NOT NULL,
    text        TEXT NOT NULL,
    parts       INTEGER,
    sender      TEXT,
    batch       INTEGER REFERENCES batches(id),
    status      TEXT NOT NULL,
    sms_id      TEXT,
    error_code  TEXT,
    error_text  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    PRIMARY KEY (campaign, msisdn)
);
CREATE INDEX messages_batch ON messages(batch);
CREATE INDEX messages_sms_id ON messages(sms_id);
CREATE TABLE statuses (
    sms_id      TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    changed_at  TEXT,
    num_parts   INTEGER,
    price       REAL,
    fetched_at  TEXT NOT NULL
);
CREATE TABLE balance_snapshots (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at  TEXT NOT NULL,
    amount    REAL NOT NULL,
    currency  TEXT
);
CREATE TABLE packages (
    snapshot   INTEGER NOT NULL REFERENCES balance_snapshots(id),
    direction  TEXT NOT NULL,
    remaining  INTEGER NOT NULL
);
CREATE INDEX packages_snapshot ON packages(snapshot);
"""

# Version 2: every record belongs to an account; runs are registered (liveness, who sent);
# messages carry an A/B variant, the input row's other columns and a not-before time.
_V2_TABLES = """
CREATE TABLE campaigns (
    account     TEXT NOT NULL,
    name        TEXT NOT NULL,
    login       TEXT,
    endpoint    TEXT,
    sender      TEXT,
    template    TEXT,
    os_user     TEXT,
    os_host     TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE INDEX campaigns_name ON campaigns(name);
CREATE TABLE runs (
    token       TEXT PRIMARY KEY,
    account     TEXT,
    campaign    TEXT,
    pid         INTEGER,
    host        TEXT,
    os_user     TEXT,
    started_at  TEXT NOT NULL,
    ended_at    TEXT
);
CREATE TABLE batches (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account      TEXT NOT NULL,
    campaign     TEXT NOT NULL,
    parent       INTEGER,
    state        TEXT NOT NULL,
    recipients   TEXT NOT NULL,
    size         INTEGER NOT NULL,
    text_hash    TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    sender       TEXT,
    variant      TEXT,
    owner_pid    INTEGER,
    owner_host   TEXT,
    owner_token  TEXT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    answer_code  TEXT,
    answer_text  TEXT
);
CREATE INDEX batches_campaign_state ON batches(account, campaign, state);
CREATE INDEX batches_state ON batches(state);
CREATE INDEX batches_fingerprint ON batches(fingerprint);
CREATE TABLE messages (
    account     TEXT NOT NULL,
    campaign    TEXT NOT NULL,
    msisdn      TEXT NOT NULL,
    text        TEXT NOT NULL,
    parts       INTEGER,
    sender      TEXT,
    variant     TEXT,
    contact     TEXT,
    not_before  TEXT,
    batch       INTEGER,
    status      TEXT NOT NULL,
    sms_id      TEXT,
    error_code  TEXT,
    error_text  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    PRIMARY KEY (account, campaign, msisdn)
);
CREATE INDEX messages_batch ON messages(batch);
CREATE INDEX messages_sms_id ON messages(sms_id);
CREATE TABLE statuses (
    account     TEXT NOT NULL,
    sms_id      TEXT NOT NULL,
    state       TEXT NOT NULL,
    changed_at  TEXT,
    num_parts   INTEGER,
    price       REAL,
    fetched_at  TEXT NOT NULL,
    PRIMARY KEY (account, sms_id)
);
CREATE TABLE balance_snapshots (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    account   TEXT NOT NULL,
    taken_at  TEXT NOT NULL,
    amount    REAL NOT NULL,
    currency  TEXT
);
CREATE INDEX balance_snapshots_account ON balance_snapshots(account, taken_at);
CREATE TABLE packages (
    snapshot   INTEGER NOT NULL REFERENCES balance_snapshots(id),
    direction  TEXT NOT NULL,
    remaining  INTEGER NOT NULL
);
CREATE INDEX packages_snapshot ON packages(snapshot);
"""

_V1_TABLES = ("campaigns", "batches", "messages", "statuses", "balance_snapshots", "packages")


def run_script(c: Any, sql: str) -> None:
    """Run the ``;``-separated statements of ``sql`` on ``c``."""
    for statement in sql.split(";"):
        if statement.strip():
            c.execute(statement)


def _v2(c: Any) -> None:
    """0.1 → 2: accounts everywhere. Records get the user they recorded and the default endpoint;
    statuses the account of the message that holds their id; balance snapshots (which recorded no
    user) the journal's only account, or ``""`` (unattributed) when it had several. Fingerprints
    are recomputed in the new form so that a refusal recorded by 0.1 is still waited out."""
    for index in (
        "batches_campaign_state",
        "batches_fingerprint",
        "messages_batch",
        "messages_sms_id",
        "packages_snapshot",
    ):
        c.execute(f"DROP INDEX IF EXISTS {index}")
    for table in _V1_TABLES:
        c.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
    run_script(c, _V2_TABLES)
    at_default = account_of("", DEFAULT_ENDPOINT)  # "@sms.targetsms.ru"
    c.execute(
        "INSERT INTO campaigns (account, name, login, endpoint, sender, template, created_at,"
        " updated_at) SELECT COALESCE(user, '') || ?, name, user, ?, sender, template,"
        " created_at, updated_at FROM campaigns_v1 ORDER BY rowid",
        (at_default, DEFAULT_ENDPOINT),
    )
    accounts = [r[0] for r in c.execute("SELECT DISTINCT account FROM campaigns")]
    only = accounts[0] if len(accounts) == 1 else ""
    c.execute(
        "INSERT INTO batches (id, account, campaign, parent, state, recipients, size, text_hash,"
        " fingerprint, sender, owner_pid, owner_host, owner_token, started_at, finished_at,"
        " answer_code, answer_text) SELECT b.id, COALESCE(c.account, ?), b.campaign, b.parent,"
        " b.state, b.recipients, b.size, b.text_hash, b.fingerprint, b.sender, b.owner_pid,"
        " b.owner_host, b.owner_token, b.started_at, b.finished_at, b.answer_code, b.answer_text"
        " FROM batches_v1 b LEFT JOIN campaigns c ON c.name = b.campaign ORDER BY b.id",
        (only,),
    )
    c.execute(
        "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, batch, status,"
        " sms_id, error_code, error_text, created_at, sent_at) SELECT COALESCE(c.account, ?),"
        " m.campaign, m.msisdn, m.text, m.parts, m.sender, m.batch, m.status, m.sms_id,"
        " m.error_code, m.error_text, m.created_at, m.sent_at FROM messages_v1 m"
        " LEFT JOIN campaigns c ON c.name = m.campaign ORDER BY m.rowid",
        (only,),
    )
    c.execute(
        "INSERT INTO statuses (account, sms_id, state, changed_at, num_parts, price, fetched_at)"
        " SELECT COALESCE((SELECT m.account FROM messages m WHERE m.sms_id = s.sms_id LIMIT 1),"
        " ?), s.sms_id, s.state, s.changed_at, s.num_parts, s.price, s.fetched_at"
        " FROM statuses_v1 s ORDER BY s.rowid",
        (only,),
    )
    c.execute(
        "INSERT INTO balance_snapshots (id, account, taken_at, amount, currency)"
        " SELECT id, ?, taken_at, amount, currency FROM balance_snapshots_v1 ORDER BY id",
        (only,),
    )
    c.execute(
        "INSERT INTO packages (snapshot, direction, remaining)"
        " SELECT snapshot, direction, remaining FROM packages_v1 ORDER BY rowid"
    )
    rows = c.execute(
        "SELECT b.id, b.account, b.campaign, b.recipients, b.sender, c.login FROM batches b"
        " LEFT JOIN campaigns c ON c.account = b.account AND c.name = b.campaign"
    ).fetchall()
    for batch_id, account, campaign, recipients, sender, login in rows:
        phones = json.loads(recipients)
        if not phones:
            continue
        text = c.execute(
            "SELECT text FROM messages WHERE account = ? AND campaign = ? AND msisdn = ?",
            (account, campaign, phones[0]),
        ).fetchone()
        if text is not None:
            fingerprint = request_fingerprint(
                DEFAULT_ENDPOINT, login or "", sender or "", phones, text[0]
            )
            c.execute("UPDATE batches SET fingerprint = ? WHERE id = ?", (fingerprint, batch_id))
    for table in ("packages", "messages", "batches", "campaigns", "statuses", "balance_snapshots"):
        c.execute(f"DROP TABLE {table}_v1")


Migration = str | Callable[[Any], None]

# When the service last answered this very request (fingerprint) with a refusal: a stop or a split.
_REFUSAL_SQL = (
    "SELECT MAX(finished_at) FROM batches WHERE fingerprint = ?"
    " AND state IN ('failed', 'split') AND answer_code IS NOT NULL"
    " AND answer_code NOT IN ('transport', 'invalid_input')"
)

# A batch's recipients still in flight go back to pending (its request never went out, or was
# refused for one of them): an answer of "pending" or "split", and a reserved batch recovered.
_BACK_TO_PENDING = (
    "UPDATE messages SET status = 'pending', batch = NULL WHERE batch = ? AND status = 'inflight'"
)

# A reserved batch put in flight before its request (see Journal.launch_batch): its id, or no row.
_LAUNCH_SQL = (
    "UPDATE batches SET state = 'inflight', started_at = ? WHERE id = ? AND state = 'reserved'"
    " RETURNING id"
)

# 2 -> 3, PostgreSQL: a batch's answer updates its messages in place (a heap-only update, no
# index entry written) where it used to write a new entry in each of the table's three indexes for
# every recipient, since ``sms_id`` was one of the indexed columns (measured, 143 recipients:
# 2.7 -> 1.0 ms for the statement, the new table's rows included). Their ids are looked up in a
# table of their own, written with the answer (``message_ids``: which message was given which id,
# once; a row whose message has another id since is ignored, and ids it does not name are looked
# for in the messages, see ``PostgresJournal._messages_by_id``). New pages keep room for the
# updated rows (fillfactor: the pages written before the upgrade keep theirs until the table is
# rewritten). The lock the index's drop takes waits 10 s at most for the sessions that use the
# table (a transaction left open), then the upgrade fails saying so, instead of every sender
# queueing behind it. SQLite updates only the indexes of the columns that change: nothing to do
# there (its version moves on with PostgreSQL's).
_PG_V3 = """
SET LOCAL lock_timeout = '10s';
CREATE TABLE message_ids (
    account   TEXT NOT NULL,
    campaign  TEXT NOT NULL,
    msisdn    TEXT NOT NULL,
    sms_id    TEXT NOT NULL
);
INSERT INTO message_ids (account, campaign, msisdn, sms_id)
    SELECT DISTINCT account, campaign, msisdn, sms_id FROM messages WHERE sms_id IS NOT NULL;
CREATE UNIQUE INDEX message_ids_key ON message_ids(sms_id, account, campaign, msisdn);
DROP INDEX IF EXISTS messages_sms_id;
ALTER TABLE messages SET (fillfactor = 50)
"""

#: SQLite's ordered migrations: entry ``i`` takes the schema from version ``i`` to ``i + 1``.
SQLITE_MIGRATIONS: list[Migration] = [_V1, _v2, ""]


def _postgres_ddl(sqlite_ddl: str) -> str:
    """The version-2 tables in PostgreSQL's types; ``seq`` columns keep insertion order (SQLite's
    rowid) and ``runs.lock_key`` names the run's session advisory lock."""
    ddl = sqlite_ddl.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    ddl = ddl.replace(" REAL", " DOUBLE PRECISION")
    ddl = ddl.replace("    batch       INTEGER,", "    batch       BIGINT,")
    ddl = ddl.replace("    parent       INTEGER,", "    parent       BIGINT,")
    ddl = ddl.replace("snapshot   INTEGER NOT NULL", "snapshot   BIGINT NOT NULL")
    ddl = ddl.replace(
        "    ended_at    TEXT\n);", "    ended_at    TEXT,\n    lock_key    INTEGER\n);"
    )
    for table in ("messages", "statuses", "packages"):
        ddl = ddl.replace(
            f"CREATE TABLE {table} (\n", f"CREATE TABLE {table} (\n    seq BIGSERIAL,\n"
        )
    return ddl


#: PostgreSQL's ordered migrations (version 1, the 0.1 schema, never existed there).
POSTGRES_MIGRATIONS: list[Migration] = ["", _postgres_ddl(_V2_TABLES), _PG_V3]
#: The schema version this code writes (both backends).
SCHEMA_VERSION = len(SQLITE_MIGRATIONS)
