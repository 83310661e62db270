"""Delivery and cost reports over status frames, and balance helpers.

Pure: every function here is a function of its inputs (no I/O, no clock). Reports are vectorized
(one ``groupby`` to number the groups, then ``numpy.bincount`` and one sort for the percentiles),
so a million statuses take well under a second.

Example::

    >>> import pandas as pd
    >>> statuses = pd.DataFrame({"campaign": ["spring", "spring"],
    ...                          "state": ["deliver", "expired"],
    ...                          "num_parts": [1, 1], "price": [3.0, 3.0]})
    >>> delivery_report(statuses)[["messages", "deliver", "expired", "delivery_rate", "cost"]]
       messages  deliver  expired  delivery_rate  cost
    0         2        1        1            0.5   6.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .groupings import DERIVED, SERVICE_TZ, derived_column
from .groupings import utc as _utc
from .protocol import FINAL_STATES, STATES
from .stats import wilson_interval

__all__ = [
    "REPORT_COLUMNS",
    "SERVICE_TZ",
    "delivery_report",
    "latency_seconds",
    "packages_frame",
    "spend_between",
]

_FINAL: tuple[str, ...] = tuple(s for s in STATES if s in FINAL_STATES)
_STATE_INDEX: dict[str, int] = {s: i for i, s in enumerate(STATES)}
#: Code of a row with no known state (the fetch failed, or the value is not one of STATES).
_NO_STATE = len(STATES)
_FINAL_CODES = np.array([_STATE_INDEX[s] for s in _FINAL], dtype=np.int8)

#: The columns of :func:`delivery_report`, after the ``by`` columns, in this order.
REPORT_COLUMNS: tuple[str, ...] = (
    "messages",
    *STATES,
    "failed_fetch",
    "final",
    "delivery_rate",
    "delivery_rate_low",
    "delivery_rate_high",
    "pending_share",
    "parts",
    "cost",
    "cost_per_delivered",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
)

#: Up to this many groups, latency percentiles sort each group's slice (a Python loop per group).
_SEGMENT_SORT_GROUPS = 20_000

#: Direction names the service uses for "everything else"; :func:`packages_frame` lists them last.
_OTHER_DIRECTIONS = frozenset({"остальные", "other", "others"})


# ---------------------------------------------------------------- column helpers


def _state_codes(statuses: pd.DataFrame) -> np.ndarray:
    """Per row: the index of its state in ``STATES``, or ``_NO_STATE``.

    States are matched ignoring case and surrounding blanks; only the distinct values are looked at
    in Python, the rows are mapped with one ``take``.
    """
    if "state" not in statuses.columns:
        return np.full(len(statuses), _NO_STATE, dtype=np.int8)
    codes, uniques = pd.factorize(statuses["state"])
    lookup = [_STATE_INDEX.get(str(u).strip().lower(), _NO_STATE) for u in uniques]
    # factorize marks missing values with -1, which picks the trailing _NO_STATE.
    table = np.array([*lookup, _NO_STATE], dtype=np.int8)
    return table[codes]


def _floats(statuses: pd.DataFrame, column: str) -> np.ndarray | None:
    if column not in statuses.columns:
        return None
    values = pd.to_numeric(statuses[column], errors="coerce")
    return values.to_numpy(dtype=float, na_value=np.nan)


def _costs(statuses: pd.DataFrame) -> np.ndarray:
    """Per-row cost: the ``cost`` column, filled from ``num_parts * price`` where it is missing."""
    cost = _floats(statuses, "cost")
    parts = _floats(statuses, "num_parts")
    price = _floats(statuses, "price")
    derived = parts * price if parts is not None and price is not None else None
    if cost is None:
        return derived if derived is not None else np.full(len(statuses), np.nan)
    if derived is not None:
        cost = np.where(np.isnan(cost), derived, cost)
    return cost


def _operator_column(statuses: pd.DataFrame) -> pd.Series:
    """Operator brand per row from ``msisdn`` (the numbering plan registry, ``numbering``), as a
    categorical: NaN without a number. MNP: the range's operator, not a ported one."""
    if "msisdn" not in statuses.columns:
        raise KeyError("'operator' needs an 'operator' or an 'msisdn' column")
    from .numbering import lookup_categorical  # lazy: the table is only loaded when needed

    msisdn = statuses["msisdn"]
    if pd.api.types.is_numeric_dtype(msisdn.dtype):  # 79161234567 read from a CSV as a number
        values = pd.array(msisdn, dtype="Int64").astype(str).to_numpy(dtype=object)
    else:
        values = msisdn.to_numpy(dtype=object)
    # send_campaign leaves msisdn empty where there is no number: no number, no operator
    blank = msisdn.isna().to_numpy() | (values == "")
    found = lookup_categorical(values, "operator")
    codes = np.where(blank, -1, found.codes)
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=found.categories).remove_unused_categories(),
        index=statuses.index,
        name="operator",
    )


def _key_column(statuses: pd.DataFrame, name: str) -> pd.Series:
    if name in statuses.columns:
        return statuses[name]
    if len(statuses) == 0:  # nothing to derive: an empty report, whatever the columns
        return pd.Series([], dtype=object, name=name, index=statuses.index)
    if name == "operator":
        return _operator_column(statuses)
    if name in DERIVED:
        return derived_column(statuses, name)
    raise KeyError(f"cannot group by {name!r}: no such column (have {list(statuses.columns)})")


def _group(statuses: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Number the groups: per-row group codes and one row of key values per group, in sorted order.

    Missing key values form their own group (``dropna=False``) so no message is lost; categorical keys
    give only the groups that occur.
    """
    if not keys:
        return np.zeros(len(statuses), dtype=np.intp), pd.DataFrame(index=pd.RangeIndex(1))
    # .array keeps each key's dtype (categorical, str, datetime) without aligning on the index
    frame = pd.DataFrame({k: _key_column(statuses, k).array for k in keys})
    try:
        grouped = frame.groupby(keys, dropna=False, observed=True, sort=True)
        codes = grouped.ngroup().to_numpy(dtype=np.intp)
    except TypeError:  # keys mixing unorderable types: keep the order of appearance
        grouped = frame.groupby(keys, dropna=False, observed=True, sort=False)
        codes = grouped.ngroup().to_numpy(dtype=np.intp)
    labels = grouped.size().index.to_frame(index=False)
    if "date" in keys and "date" not in statuses.columns:
        labels["date"] = _as_dates(labels["date"])
    return codes, labels


def _as_dates(days: pd.Series) -> pd.Series:
    """Naive midnights to ``datetime.date`` objects (``None`` for NaT): a report shows calendar days."""
    values = pd.to_datetime(days)
    return pd.Series(
        [None if pd.isna(v) else v.date() for v in values], dtype=object, index=days.index
    )


def _group_quantiles(
    codes: np.ndarray, values: np.ndarray, ngroups: int, qs: Sequence[float]
) -> list[np.ndarray]:
    """Per group percentiles of ``values`` (NaN skipped), numpy's ``linear`` method, bit for bit.

    Sorted by (group, value) - a radix sort of the group codes, then a sort per group (lexsort
    past :data:`_SEGMENT_SORT_GROUPS` groups); then each percentile is two gathers and a lerp.
    """
    keep = ~np.isnan(values)
    codes, values = codes[keep], values[keep]
    counts = np.bincount(codes, minlength=ngroups)
    starts = np.cumsum(counts) - counts
    if ngroups <= _SEGMENT_SORT_GROUPS:
        # A stable sort of small-int codes is a radix sort; then each group's slice is sorted in
        # place: about 5x faster than lexsort on a million values, and the same sorted values.
        small = codes.astype(np.int16 if ngroups < 2**15 else np.int32)
        values = values[np.argsort(small, kind="stable")]
        for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
            if count > 1:
                values[start : start + count].sort()
    else:
        values = values[np.lexsort((values, codes))]
    has = counts > 0
    results = []
    for q in qs:
        out = np.full(ngroups, np.nan)
        pos = (counts[has] - 1) * q
        below = np.floor(pos).astype(np.intp)
        above = np.minimum(below + 1, counts[has] - 1)
        t = pos - below
        a = values[starts[has] + below]
        b = values[starts[has] + above]
        diff = b - a
        # numpy's _lerp: exact at both ends and monotonic
        out[has] = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
        results.append(out)
    return results


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    num = numerator.astype(float)
    den = denominator.astype(float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


# ---------------------------------------------------------------- reports


def latency_seconds(statuses: pd.DataFrame) -> pd.Series:
    """Seconds from ``sent_at`` to ``changed_at`` for each final message (NaN otherwise).

    NaN where the state is not final (``send``, unknown, failed fetch) or either time is missing.
    Timestamps may be in any zone (they are compared as instants); naive ones are read as Moscow time.
    The result has the frame's index and the name ``latency_s``.

    Example::

        >>> import pandas as pd
        >>> statuses = pd.DataFrame({
        ...     "state": ["deliver", "send"],
        ...     "sent_at": pd.to_datetime(["2024-05-01 09:00:00", "2024-05-01 09:00:00"], utc=True),
        ...     "changed_at": pd.to_datetime(["2024-05-01 12:00:07", None]).tz_localize(
        ...         "Europe/Moscow"),
        ... })
        >>> latency_seconds(statuses).tolist()
        [7.0, nan]
    """
    seconds = _latency(statuses, _state_codes(statuses))
    return pd.Series(seconds, index=statuses.index, name="latency_s")


def _latency(statuses: pd.DataFrame, state: np.ndarray) -> np.ndarray:
    sent = _utc(statuses, "sent_at")
    changed = _utc(statuses, "changed_at")
    if sent is None or changed is None:
        return np.full(len(statuses), np.nan)
    seconds = (changed - sent).dt.total_seconds().to_numpy(dtype=float, na_value=np.nan, copy=True)
    seconds[~np.isin(state, _FINAL_CODES)] = np.nan
    return seconds


def delivery_report(statuses: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Delivery, cost and latency per group of a status frame (what ``fetch_statuses`` returns).

    ``by`` is ``None`` (one row for the whole frame), a column name, or a list of them. Besides the
    frame's own columns (``campaign``, ``sender``, ``variant``, any contact column such as
    ``segment`` or ``city``…) these are derived when absent:

    - ``operator``: the carrier of ``msisdn`` (``phones.operators``, looked up once per distinct
      number; NaN for rows without a number). The lookup costs about 10 µs per distinct number:
      to report by operator repeatedly, add the column once
      (``statuses["operator"] = phones.operators(statuses["msisdn"])``);
    - ``date``: the Moscow calendar day (``datetime.date``) of ``sent_at``, or of ``changed_at`` where
      ``sent_at`` is missing;
    - ``region``, ``time_zone``: the numbering plan's, per distinct ``msisdn``;
    - ``hour``: the local hour (0–23) of ``sent_at`` in the recipient's time zone (Moscow when
      unknown);
    - ``variant``: missing (one group) for frames without variants.
    See :mod:`targetsms_analytics.groupings`.

    The result has a RangeIndex; the ``by`` columns lead, sorted, then :data:`REPORT_COLUMNS`:

    - ``messages``: rows in the group; a missing key value (e.g. no campaign) is a group of its own,
      so the groups' ``messages`` always add up to ``len(statuses)``;
    - ``deliver``, ``not_deliver``, ``expired``, ``partly_deliver``, ``send``: rows per state (ints,
      always all five); ``failed_fetch``: rows with no known state (usually a failed fetch, and
      ``error_code`` says why). These six add up to ``messages``;
    - ``final``: rows in a final state; ``delivery_rate`` = deliver / final, with
      ``delivery_rate_low`` / ``delivery_rate_high`` its 95 % Wilson score interval
      (:func:`~targetsms_analytics.stats.wilson_interval`; NaN without final rows);
      ``pending_share`` = send / messages;
    - ``parts``: sum of the known ``num_parts`` (int; 0 when none is known);
    - ``cost``: sum of the known costs (``cost``, filled from ``num_parts * price`` where missing);
      NaN when no row of the group has one, so an unknown price does not pass for free;
    - ``cost_per_delivered`` = cost of the *final* messages / deliver: pending messages are left
      out, so the figure does not fall as they turn final; NaN with nothing delivered;
    - ``latency_p50_s``, ``latency_p90_s``, ``latency_p99_s``: percentiles (linear interpolation,
      as ``numpy.percentile``) of :func:`latency_seconds` over final rows having both times.

    Every ratio is NaN where its denominator is 0 (an empty frame, an all-pending group); nothing
    raises. An empty frame with ``by`` gives no rows (with all the columns).

    Example::

        >>> import pandas as pd
        >>> statuses = pd.DataFrame({
        ...     "campaign": ["a", "a", "b"],
        ...     "state": ["deliver", "not_deliver", "send"],
        ...     "num_parts": [1, 2, 1],
        ...     "price": [2.5, 2.5, 2.5],
        ... })
        >>> report = delivery_report(statuses, by="campaign")
        >>> report[["campaign", "messages", "deliver", "delivery_rate", "cost"]]
          campaign  messages  deliver  delivery_rate  cost
        0        a         2        1            0.5   7.5
        1        b         1        0            NaN   2.5
    """
    keys = _keys(by)
    clash = set(keys) & set(REPORT_COLUMNS)
    if clash:
        raise InputError(
            "bad_grouping", f"cannot group by report column(s) {sorted(clash)}", field="by"
        )
    statuses = statuses if isinstance(statuses, pd.DataFrame) else pd.DataFrame(statuses)

    codes, labels = _group(statuses, keys)
    ngroups = len(labels)
    n_codes = _NO_STATE + 1

    state = _state_codes(statuses)
    counts = np.bincount(
        codes * n_codes + state.astype(np.intp), minlength=ngroups * n_codes
    ).reshape(ngroups, n_codes)
    messages = counts.sum(axis=1)
    final = counts[:, _FINAL_CODES].sum(axis=1)
    deliver = counts[:, _STATE_INDEX["deliver"]]

    parts = _floats(statuses, "num_parts")
    parts_sum = _known_sum(codes, parts, ngroups)
    costs = _costs(statuses)
    cost_sum = _known_sum(codes, costs, ngroups)
    # Only final messages: a pending one has cost but cannot have been delivered yet, so counting
    # it would inflate the figure mid-campaign (5.84 at noon, 1.35 an hour later).
    final_cost = _known_sum(codes, np.where(np.isin(state, _FINAL_CODES), costs, np.nan), ngroups)
    p50, p90, p99 = _group_quantiles(codes, _latency(statuses, state), ngroups, (0.5, 0.9, 0.99))
    rate_low, rate_high = wilson_interval(deliver, final)

    columns: dict[str, Any] = {"messages": messages}
    for i, s in enumerate(STATES):
        columns[s] = counts[:, i]
    columns["failed_fetch"] = counts[:, _NO_STATE]
    columns["final"] = final
    columns["delivery_rate"] = _ratio(deliver, final)
    columns["delivery_rate_low"] = rate_low
    columns["delivery_rate_high"] = rate_high
    columns["pending_share"] = _ratio(counts[:, _STATE_INDEX["send"]], messages)
    # int64 rather than a nullable Int64: one NA-able column would turn a whole report row
    # (report.iloc[0]) into Float64 with NA in place of every NaN.
    columns["parts"] = np.round(np.nan_to_num(parts_sum)).astype(np.int64)
    columns["cost"] = cost_sum
    columns["cost_per_delivered"] = _ratio(final_cost, deliver)
    columns["latency_p50_s"] = p50
    columns["latency_p90_s"] = p90
    columns["latency_p99_s"] = p99

    report = pd.DataFrame(columns, index=pd.RangeIndex(ngroups))
    for c in ("messages", *STATES, "failed_fetch", "final", "parts"):
        report[c] = report[c].astype(np.int64)
    if keys:
        report = pd.concat([labels.reset_index(drop=True), report], axis=1)
    return report


def _keys(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    keys = [by] if isinstance(by, str) else list(by)
    if len(set(keys)) != len(keys):
        raise InputError("bad_grouping", f"repeated column in by={by!r}", field="by")
    return keys


def _known_sum(codes: np.ndarray, values: np.ndarray | None, ngroups: int) -> np.ndarray:
    """Per group sum over the non-NaN values; NaN for a group with none."""
    if values is None:
        return np.full(ngroups, np.nan)
    known = ~np.isnan(values)
    total = np.bincount(codes[known], weights=values[known], minlength=ngroups)
    seen = np.bincount(codes[known], minlength=ngroups)
    return np.where(seen > 0, total, np.nan)


# ---------------------------------------------------------------- balance


def packages_frame(balance: Any) -> pd.DataFrame:
    """The SMS left per direction, largest first, catch-all directions ("Остальные") last.

    ``balance`` is a ``Balance`` (anything with ``.packages``) or a packages DataFrame itself.
    Returns columns ``direction`` (str) and ``remaining`` (int64) with a RangeIndex. Directions are
    named as ``lookup_numbers`` names operators (``numbering.brand_of_direction``: ``BeeLine`` is
    ``Билайн``, ``Yota`` is ``Скартел``); a direction listed twice (or under two names) is summed.

    Example::

        >>> import targetsms_analytics as ts
        >>> packages_frame(ts.parse_balance("445.6 RUR\\nОстальные:9,Россия:361,MTS:1,Yota:1"))
           direction  remaining
        0     Россия        361
        1        МТС          1
        2    Скартел          1
        3  Остальные          9
    """
    packages = getattr(balance, "packages", balance)
    if packages is None:
        packages = pd.DataFrame(columns=["direction", "remaining"])
    packages = pd.DataFrame(packages)
    if packages.empty or "direction" not in packages.columns:
        return pd.DataFrame(
            {"direction": pd.Series([], dtype=object), "remaining": pd.Series([], dtype=np.int64)}
        )
    from .numbering import brand_of_direction  # one name per operator, as lookup_numbers gives

    frame = pd.DataFrame(
        {
            "direction": packages["direction"].astype(str).str.strip().map(brand_of_direction),
            "remaining": pd.to_numeric(packages["remaining"], errors="coerce")
            .fillna(0)
            .astype(np.int64),
        }
    )
    frame = frame.groupby("direction", sort=False, as_index=False)["remaining"].sum()
    other = frame["direction"].str.lower().isin(_OTHER_DIRECTIONS)
    frame = frame.assign(_other=other, _neg=-frame["remaining"])
    # Python's str order (code points) is stable across locales; good enough for ties.
    frame = frame.sort_values(["_other", "_neg", "direction"], kind="stable")
    return frame[["direction", "remaining"]].reset_index(drop=True)


def spend_between(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Money spent and topped up between consecutive balance snapshots.

    ``snapshots`` has ``taken_at`` (tz-aware), ``amount`` and optionally ``currency``; rows are sorted
    by time first. One row per consecutive pair: ``from``, ``to``, ``currency``, ``amount_before``,
    ``amount_after``, ``spent`` (how much the amount fell, >= 0) and ``topped_up`` (how much it rose,
    >= 0; at most one of the two is non-zero). A pair whose currency changes gives NaN for both.
    A top-up and spending in the same interval net out: only the difference is seen.

    Example::

        >>> import pandas as pd
        >>> snapshots = pd.DataFrame({
        ...     "taken_at": pd.to_datetime(["2024-05-01 10:00", "2024-05-02 10:00",
        ...                                 "2024-05-03 10:00"]).tz_localize("Europe/Moscow"),
        ...     "amount": [500.0, 420.5, 1420.5],
        ...     "currency": "RUR",
        ... })
        >>> spend_between(snapshots)[["amount_before", "amount_after", "spent", "topped_up"]]
           amount_before  amount_after  spent  topped_up
        0          500.0         420.5   79.5        0.0
        1          420.5        1420.5    0.0     1000.0
    """
    columns = ["from", "to", "currency", "amount_before", "amount_after", "spent", "topped_up"]
    if snapshots is None or len(snapshots) < 2:
        empty = pd.DataFrame({c: pd.Series([], dtype=float) for c in columns})
        empty["from"] = pd.Series([], dtype="datetime64[ns, UTC]")
        empty["to"] = pd.Series([], dtype="datetime64[ns, UTC]")
        empty["currency"] = pd.Series([], dtype=object)
        return empty
    ordered = snapshots.assign(taken_at=_instants(snapshots["taken_at"]))
    ordered = ordered.sort_values("taken_at", kind="stable").reset_index(drop=True)
    amount = pd.to_numeric(ordered["amount"], errors="coerce").to_numpy(dtype=float)
    if "currency" in ordered.columns:
        currency = ordered["currency"].to_numpy(dtype=object)
    else:
        currency = np.full(len(ordered), None, dtype=object)
    before, after = amount[:-1], amount[1:]
    unknown = pd.isna(currency)
    same = (currency[:-1] == currency[1:]) | (unknown[:-1] & unknown[1:])
    same = np.asarray(same, dtype=bool)
    change = np.where(same, after - before, np.nan)
    taken = ordered["taken_at"]
    return pd.DataFrame(
        {
            "from": taken.iloc[:-1].array,
            "to": taken.iloc[1:].array,
            "currency": np.where(same, currency[1:], None),
            "amount_before": before,
            "amount_after": after,
            "spent": np.clip(-change, 0, None),
            "topped_up": np.clip(change, 0, None),
        }
    )


def _instants(values: pd.Series) -> pd.Series:
    """Snapshot times as datetimes, keeping their zone; text is parsed, mixed offsets go to UTC."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    try:
        parsed = pd.to_datetime(values, errors="coerce")
    except (ValueError, TypeError):
        parsed = pd.to_datetime(values, errors="coerce", utc=True)
    if not pd.api.types.is_datetime64_any_dtype(parsed.dtype):
        parsed = pd.to_datetime(values, errors="coerce", utc=True)
    return parsed
