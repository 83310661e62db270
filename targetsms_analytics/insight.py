"""Comparisons with a test, failure reasons, and spend reconciled against the balance.

Pure: functions of frames (no I/O, no clock). :func:`compare` tells a real difference in delivery
rate from noise, :func:`failure_report` says where messages fail and what that costs, and
:func:`reconcile` checks what the statuses claim against what left the account
(``ts.reconcile_spend`` reads the frames from the journal and calls it).

Example::

    >>> import pandas as pd
    >>> statuses = pd.DataFrame({"campaign": ["a"] * 4 + ["b"] * 4,
    ...                          "state": ["deliver"] * 4 + ["deliver", "expired"] * 2})
    >>> compare(statuses)[["campaign", "delivery_rate", "diff"]]
      campaign  delivery_rate  diff
    0        a            1.0   0.0
    1        b            0.5  -0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .analytics import (
    _STATE_INDEX,
    _costs,
    _group,
    _key_column,
    _keys,
    _known_sum,
    _state_codes,
    delivery_report,
    spend_between,
)
from .errors import InputError
from .groupings import SERVICE_TZ, utc
from .stats import diff_interval, two_proportion_p_value

__all__ = [
    "COMPARE_COLUMNS",
    "FAILURE_STATES",
    "RECONCILE_COLUMNS",
    "compare",
    "failure_report",
    "reconcile",
]

#: The columns of :func:`compare`, after the ``by`` columns.
COMPARE_COLUMNS: tuple[str, ...] = (
    "baseline",
    "messages",
    "final",
    "deliver",
    "delivery_rate",
    "delivery_rate_low",
    "delivery_rate_high",
    "diff",
    "diff_low",
    "diff_high",
    "p_value",
    "cost_per_delivered",
    "cost_per_delivered_diff",
)

#: What counts as a failure in :func:`failure_report`, in the order of its columns.
FAILURE_STATES: tuple[str, ...] = ("not_deliver", "expired", "partly_deliver", "failed_fetch")

#: The columns of :func:`reconcile`.
RECONCILE_COLUMNS: tuple[str, ...] = (
    "period",
    "messages",
    "parts",
    "cost_by_statuses",
    "parts_from_packages",
    "paid_from_packages",
    "expected_spend",
    "spend_by_balance",
    "top_ups",
    "difference",
    "mismatch",
    "unbracketed",
    "note",
)

#: Outcomes of a campaign result that are not refusals: ``queued`` waits for money (not
#: failed), ``unknown`` lost its answer (it may have been delivered).
_NOT_REFUSED = frozenset(
    {"sent", "ready", "holdout", "scheduled", "duplicate", "queued", "unknown"}
)


# ---------------------------------------------------------------- compare


def _label_rows(report: pd.DataFrame, keys: list[str]) -> list[Any]:
    if len(keys) == 1:
        return report[keys[0]].tolist()
    return list(report[keys].itertuples(index=False, name=None))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if pd.isna(a) if not isinstance(a, tuple) else False:
        return not isinstance(b, tuple) and bool(pd.isna(b))
    return a == b or str(a) == str(b)


def compare(
    statuses: pd.DataFrame,
    by: str | Sequence[str] = "campaign",
    baseline: Any = None,
) -> pd.DataFrame:
    """Each group's delivery rate against a baseline group's, with an interval and a p-value.

    One row per group (the ``by`` columns, sorted as in ``delivery_report``), then
    :data:`COMPARE_COLUMNS`: ``baseline`` (True on the baseline's row), ``messages``, ``final``,
    ``deliver``, ``delivery_rate`` (deliver / final) with its 95 % Wilson interval, ``diff`` (the
    rate minus the baseline's), ``diff_low`` / ``diff_high`` (95 % interval of the difference,
    unpooled normal approximation), ``p_value`` (two-sided two-proportion z-test, pooled
    variance), ``cost_per_delivered`` and ``cost_per_delivered_diff`` (minus the baseline's).

    ``baseline`` is a value of the ``by`` column (a tuple of values for several columns); the
    first group when ``None``. The baseline's own row has ``diff`` 0 and NaN interval and p-value.

    What the test assumes: each message is delivered or not independently, with one rate per
    group; the normal approximation needs a few (≥ 5) delivered and undelivered messages in each
    group. Do not trust it for tiny groups, for groups sent at different times to different
    people (the difference may be the audience, not the text), or when many groups are compared
    at once (one in twenty differs at p < 0.05 by chance alone). Groups with no final message
    give NaN.

    An empty frame gives no rows; a baseline that is not among the groups raises ``InputError``
    (code ``unknown_baseline``).

    Example::

        >>> import pandas as pd
        >>> statuses = pd.DataFrame({"variant": ["A"] * 100 + ["B"] * 100,
        ...                          "state": ["deliver"] * 90 + ["expired"] * 10
        ...                                   + ["deliver"] * 80 + ["expired"] * 20})
        >>> row = compare(statuses, by="variant").iloc[1]
        >>> round(row["diff"], 2), round(row["p_value"], 4)
        (np.float64(-0.1), np.float64(0.0477))
    """
    keys = _keys(by)
    if not keys:
        raise InputError(
            "bad_grouping", "compare needs at least one column to group by", field="by"
        )
    statuses = statuses if isinstance(statuses, pd.DataFrame) else pd.DataFrame(statuses)
    report = delivery_report(statuses, by=keys)
    columns = [*keys, *COMPARE_COLUMNS]
    if report.empty:
        if baseline is not None:
            raise InputError(
                "unknown_baseline", f"baseline {baseline!r}: there are no groups", field="baseline"
            )
        empty = pd.DataFrame({c: pd.Series([], dtype=float) for c in columns})
        for k in keys:
            empty[k] = pd.Series([], dtype=object)
        empty["baseline"] = pd.Series([], dtype=bool)
        for c in ("messages", "final", "deliver"):
            empty[c] = pd.Series([], dtype=np.int64)
        return empty
    labels = _label_rows(report, keys)
    if baseline is None:
        base = 0
    else:
        wanted = tuple(baseline) if len(keys) > 1 and not isinstance(baseline, str) else baseline
        matches = [i for i, label in enumerate(labels) if _same(label, wanted)]
        if not matches:
            shown = ", ".join(repr(v) for v in labels[:10])
            raise InputError(
                "unknown_baseline",
                f"baseline {baseline!r} is not one of the groups by {', '.join(keys)}: {shown}",
                field="baseline",
            )
        base = matches[0]
    deliver = report["deliver"].to_numpy(dtype=float)
    final = report["final"].to_numpy(dtype=float)
    bx, bn = deliver[base], final[base]
    low, high = diff_interval(deliver, final, bx, bn)
    p_value = two_proportion_p_value(deliver, final, bx, bn)
    rate = report["delivery_rate"].to_numpy(dtype=float)
    cpd = report["cost_per_delivered"].to_numpy(dtype=float)
    is_base = np.arange(len(report)) == base
    low[is_base] = high[is_base] = p_value[is_base] = np.nan
    out = report[keys].copy()
    out["baseline"] = is_base
    for c in ("messages", "final", "deliver", "delivery_rate"):
        out[c] = report[c]
    out["delivery_rate_low"] = report["delivery_rate_low"]
    out["delivery_rate_high"] = report["delivery_rate_high"]
    out["diff"] = rate - rate[base]
    out["diff_low"] = low
    out["diff_high"] = high
    out["p_value"] = p_value
    out["cost_per_delivered"] = cpd
    out["cost_per_delivered_diff"] = cpd - cpd[base]
    return out[columns].reset_index(drop=True)


# ---------------------------------------------------------------- failures


def _refusals(result: pd.DataFrame, keys: list[str], report: pd.DataFrame) -> pd.DataFrame:
    """Per group of ``report``: refusals at send time, one column ``refused_<error_code>``."""
    if "outcome" not in result.columns:
        raise InputError(
            "bad_result", "the campaign result has no 'outcome' column", field="result"
        )
    outcome = result["outcome"].astype(object)
    refused = result[~outcome.isin(_NOT_REFUSED) & outcome.notna()]
    codes = (
        refused["error_code"].astype(object).fillna(refused["outcome"].astype(object))
        if "error_code" in refused.columns
        else refused["outcome"].astype(object)
    )
    refused = refused.assign(_code=codes.astype(str).to_numpy())
    names = sorted(refused["_code"].unique())
    out = pd.DataFrame(
        0, index=report.index, columns=[f"refused_{n}" for n in names], dtype=np.int64
    )
    if refused.empty:
        return out
    if not keys:
        for n in names:
            out[f"refused_{n}"] = int((refused["_code"] == n).sum())
        return out
    try:
        values = pd.DataFrame({k: _key_column(refused, k).array for k in keys})
    except KeyError:
        if len(report) != 1:
            raise InputError(
                "bad_result",
                f"the campaign result cannot be grouped by {', '.join(keys)}",
                field="result",
            ) from None
        for n in names:
            out[f"refused_{n}"] = int((refused["_code"] == n).sum())
        return out
    values["_code"] = refused["_code"].to_numpy()
    counts = values.groupby([*keys, "_code"], dropna=False, observed=True).size()
    table = counts.unstack("_code", fill_value=0)
    merged = report[keys].merge(table.reset_index(), on=keys, how="left", sort=False)
    for n in names:
        column = merged[n] if n in merged.columns else 0
        out[f"refused_{n}"] = pd.Series(column).fillna(0).astype(np.int64).to_numpy()
    return out


def failure_report(
    statuses: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    result: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Where messages fail, and what the failures cost, per group; the costliest first.

    Columns: the ``by`` columns, ``messages``, one count per failure (:data:`FAILURE_STATES`:
    ``not_deliver``, ``expired``, ``partly_deliver``, ``failed_fetch``), ``failures`` (their sum),
    ``failure_rate`` = failures / messages, ``failed_cost`` (what the failed messages cost, the
    known costs only). With ``result`` (what ``send_campaign`` returned), one more column per
    reason a recipient was refused at send time, ``refused_<error_code>`` (outcomes other than
    sent, duplicate, held out, scheduled, queued for funds or unknown), grouped by the same columns (derived from ``msisdn``
    where they can be) and ``refused`` (their sum).

    Rows are sorted by ``failed_cost``, then ``failures``, largest first. An empty frame gives no
    rows (one all-zero row without ``by``).

    Example::

        >>> import pandas as pd
        >>> statuses = pd.DataFrame({"campaign": ["a", "a", "b"],
        ...                          "state": ["deliver", "expired", "not_deliver"],
        ...                          "num_parts": [1, 1, 2], "price": [1.0, 1.0, 1.0]})
        >>> failure_report(statuses, by="campaign")[["campaign", "failures", "failed_cost"]]
          campaign  failures  failed_cost
        0        b         1          2.0
        1        a         1          1.0
    """
    keys = _keys(by)
    statuses = statuses if isinstance(statuses, pd.DataFrame) else pd.DataFrame(statuses)
    report = delivery_report(statuses, by=keys or None)
    # the cost of the failed rows, per group: the same grouping as the report's rows
    codes, labels = _group(statuses, keys)
    state = _state_codes(statuses)
    failed = ~np.isin(state, [_STATE_INDEX["deliver"], _STATE_INDEX["send"]])
    costs = _costs(statuses) if len(statuses) else np.zeros(0)
    failed_cost = _known_sum(codes, np.where(failed, costs, np.nan), len(labels))
    out = report[keys].copy() if keys else pd.DataFrame(index=report.index)
    out["messages"] = report["messages"]
    for s in FAILURE_STATES:
        out[s] = report[s]
    out["failures"] = report[list(FAILURE_STATES)].sum(axis=1).astype(np.int64)
    messages = report["messages"].to_numpy(dtype=float)
    out["failure_rate"] = np.divide(
        out["failures"].to_numpy(dtype=float),
        messages,
        out=np.full(len(report), np.nan),
        where=messages > 0,
    )
    out["failed_cost"] = np.nan_to_num(failed_cost)
    if result is not None:
        refusals = _refusals(pd.DataFrame(result), keys, report)
        for column in refusals.columns:
            out[column] = refusals[column].to_numpy()
        out["refused"] = refusals.sum(axis=1).astype(np.int64).to_numpy()
    out = out.sort_values(["failed_cost", "failures"], ascending=False, kind="stable")
    return out.reset_index(drop=True)


# ---------------------------------------------------------------- reconciliation


def _package_use(packages: pd.DataFrame | None, times: pd.Series) -> np.ndarray:
    """SMS parts taken from packages between consecutive snapshot ``times`` (rises ignored)."""
    used = np.zeros(max(len(times) - 1, 0))
    if packages is None or packages.empty or len(times) < 2:
        return used
    history = packages.assign(taken_at=utc(packages, "taken_at"))
    table = history.pivot_table(
        index="taken_at", columns="direction", values="remaining", aggfunc="sum"
    )
    # A snapshot listing no package has none left.
    table = table.reindex(pd.DatetimeIndex(times)).fillna(0.0)
    drops = (table.shift(1) - table).iloc[1:].clip(lower=0).sum(axis=1)
    return drops.to_numpy(dtype=float)


def reconcile(
    statuses: pd.DataFrame,
    snapshots: pd.DataFrame,
    packages: pd.DataFrame | None = None,
    *,
    freq: str = "D",
    tolerance: float = 0.05,
    min_tolerance: float = 1.0,
) -> pd.DataFrame:
    """What the statuses say was spent against what left the balance, per period.

    ``statuses`` needs ``sent_at`` and ``num_parts`` × ``price`` (or ``cost``); ``snapshots`` has
    ``taken_at`` and ``amount`` (``Journal.balance_snapshots()``); ``packages`` the SMS left per
    direction at each snapshot (``Journal.package_history()``: ``taken_at``, ``direction``,
    ``remaining``). Snapshots must bracket the sends: take one before and one after a campaign.

    Each message is matched to the pair of consecutive snapshots its ``sent_at`` falls between;
    each pair belongs to the period (``freq``, a pandas frequency such as ``"D"`` or ``"W"``, on
    the Moscow calendar) of its later snapshot. One row per period with :data:`RECONCILE_COLUMNS`:

    - ``messages``, ``parts``, ``cost_by_statuses``: SMS sent in the period (bracketed or not),
      their parts and the sum of ``num_parts × price``;
    - ``parts_from_packages``: how many parts prepaid packages lost between the snapshots;
      ``paid_from_packages``: their value at the period's mean price per part (an estimate:
      which message a package paid for is not reported);
    - ``expected_spend`` = cost of the bracketed messages − ``paid_from_packages``: what should
      have left the money balance;
    - ``spend_by_balance``: drops of the balance between consecutive snapshots; rises are
      ``top_ups``, never negative spend (a top-up and spending between the same two snapshots net
      out: take a snapshot after each top-up);
    - ``difference`` = ``spend_by_balance`` − ``expected_spend``; ``mismatch`` is True when
      ``|difference|`` exceeds ``max(min_tolerance, tolerance × cost_by_statuses)``;
    - ``unbracketed``: messages sent before the first or after the last snapshot (not reconciled);
      ``note``: the reason for a mismatch, in words.

    Fewer than two snapshots give no rows: there is nothing to reconcile against.

    Example::

        >>> import pandas as pd
        >>> t = pd.Timestamp("2024-05-01 10:00", tz="UTC")
        >>> statuses = pd.DataFrame({"sent_at": [t + pd.Timedelta(minutes=5)] * 2,
        ...                          "num_parts": [1, 2], "price": [1.25, 1.25]})
        >>> snapshots = pd.DataFrame({"taken_at": [t, t + pd.Timedelta(hours=1)],
        ...                           "amount": [100.0, 96.25]})
        >>> reconcile(statuses, snapshots)[["cost_by_statuses", "spend_by_balance", "mismatch"]]
           cost_by_statuses  spend_by_balance  mismatch
        0              3.75              3.75     False
    """
    columns = list(RECONCILE_COLUMNS)
    if snapshots is None or len(snapshots) < 2:
        return _empty_reconcile(columns)
    snaps = snapshots.assign(taken_at=utc(snapshots, "taken_at")).dropna(subset=["taken_at"])
    snaps = snaps.sort_values("taken_at", kind="stable").reset_index(drop=True)
    if len(snaps) < 2:
        return _empty_reconcile(columns)
    moves = spend_between(snaps)
    times = snaps["taken_at"]
    pkg_parts = _package_use(packages, times)

    statuses = statuses if isinstance(statuses, pd.DataFrame) else pd.DataFrame(statuses)
    sent = utc(statuses, "sent_at") if len(statuses) else None
    if sent is None:
        sent = pd.Series(pd.NaT, index=statuses.index, dtype="datetime64[ns, UTC]")
    costs = _row_costs(statuses)
    parts = _row_parts(statuses)
    edges = times.to_numpy(dtype="datetime64[ns]")
    when = sent.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    # interval i spans (edges[i], edges[i + 1]]
    slot = np.searchsorted(edges, when, side="left") - 1
    known = ~np.isnat(when)
    bracketed = known & (slot >= 0) & (slot < len(edges) - 1)

    def period(instants: pd.Series) -> pd.Series:
        local = instants.dt.tz_convert(SERVICE_TZ).dt.tz_localize(None)
        return local.dt.to_period(freq).dt.start_time

    pair_period = period(pd.Series(times.iloc[1:].to_numpy(), dtype=times.dtype)).to_numpy()
    msg_period = np.full(len(statuses), np.datetime64("NaT"), dtype="datetime64[ns]")
    msg_period[bracketed] = pair_period[slot[bracketed]]
    loose = known & ~bracketed
    if loose.any():
        msg_period[loose] = period(sent[loose]).to_numpy()

    n_pairs = len(edges) - 1
    pair_cost = np.bincount(
        slot[bracketed], weights=np.nan_to_num(costs[bracketed]), minlength=n_pairs
    )
    pair_parts = np.bincount(
        slot[bracketed], weights=np.nan_to_num(parts[bracketed]), minlength=n_pairs
    )
    per_part = np.divide(pair_cost, pair_parts, out=np.zeros(n_pairs), where=pair_parts > 0)
    pair_pkg_value = np.minimum(pkg_parts * per_part, pair_cost)

    rows = pd.DataFrame(
        {
            "period": pair_period,
            "parts_from_packages": pkg_parts,
            "paid_from_packages": pair_pkg_value,
            "expected_spend": pair_cost - pair_pkg_value,
            "spend_by_balance": moves["spent"].to_numpy(dtype=float),
            "top_ups": moves["topped_up"].to_numpy(dtype=float),
        }
    )
    per_pair = rows.groupby("period", sort=True).sum(min_count=1)
    msgs = pd.DataFrame(
        {
            "period": msg_period,
            "messages": 1,
            "parts": np.nan_to_num(parts),
            "cost_by_statuses": np.nan_to_num(costs),
            "unbracketed": loose.astype(np.int64),
        }
    ).dropna(subset=["period"])
    per_msg = msgs.groupby("period", sort=True).sum()
    out = per_pair.join(per_msg, how="outer").sort_index()
    for c in ("messages", "unbracketed"):
        out[c] = out[c].fillna(0).astype(np.int64)
    out["parts"] = out["parts"].fillna(0).round().astype(np.int64)
    out["parts_from_packages"] = out["parts_from_packages"].fillna(0).round().astype(np.int64)
    for c in ("cost_by_statuses", "paid_from_packages", "expected_spend", "top_ups"):
        out[c] = out[c].fillna(0.0).round(2)
    out["spend_by_balance"] = out["spend_by_balance"].round(2)
    out["difference"] = (out["spend_by_balance"] - out["expected_spend"]).round(2)
    limit = np.maximum(min_tolerance, tolerance * out["cost_by_statuses"].to_numpy(dtype=float))
    diff = out["difference"].to_numpy(dtype=float)
    out["mismatch"] = np.abs(np.nan_to_num(diff)) > limit
    out["note"] = [_note(r) for r in out.itertuples()]
    out = out.reset_index().rename(columns={"index": "period"})
    out["period"] = pd.to_datetime(out["period"]).dt.tz_localize(SERVICE_TZ)
    return out[columns]


def _note(row: Any) -> str:
    notes = []
    if row.mismatch:
        if row.difference > 0:
            notes.append(f"the balance fell {row.difference:.2f} more than the statuses cost")
        else:
            notes.append(f"the statuses cost {-row.difference:.2f} more than the balance fell")
    if np.isnan(row.spend_by_balance):
        notes.append("no balance snapshots around these sends")
    if row.unbracketed:
        notes.append(f"{row.unbracketed} SMS sent outside the snapshots")
    if row.top_ups:
        notes.append(f"top-up of {row.top_ups:.2f}")
        if row.mismatch and row.difference < 0:
            notes.append("a top-up between two snapshots hides the spending around it")
    return "; ".join(notes)


def _row_costs(statuses: pd.DataFrame) -> np.ndarray:
    return _costs(statuses) if len(statuses) else np.zeros(0)


def _row_parts(statuses: pd.DataFrame) -> np.ndarray:
    if "num_parts" not in statuses.columns:
        return np.full(len(statuses), np.nan)
    return pd.to_numeric(statuses["num_parts"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )


def _empty_reconcile(columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype=float) for c in columns})
    frame["period"] = pd.Series([], dtype=f"datetime64[ns, {SERVICE_TZ}]")
    for c in ("messages", "parts", "parts_from_packages", "unbracketed"):
        frame[c] = pd.Series([], dtype=np.int64)
    frame["mismatch"] = pd.Series([], dtype=bool)
    frame["note"] = pd.Series([], dtype=object)
    return frame
