"""When to send: send windows in the recipient's local time, and a rate cap (a token bucket).

Pure: time comes in as arguments (``now``) or as injected ``clock`` / ``sleep`` callables, so the
rules are tested without waiting and without the wall clock.

- A :class:`SendWindow` (``("09:00", "21:00")``; ``("22:00", "06:00")`` crosses midnight) says
  whether a local time is inside, and when it next opens in a given IANA time zone.
- :func:`window_openings` gives, per recipient time zone (None: Moscow), the moment the window is
  open for them: ``now`` when it is open now.
- :class:`TokenBucket` lets through at most ``per_minute`` recipients per minute in the long run,
  across threads; one request takes at most ``capacity`` at once.

Example::

    >>> from datetime import datetime, UTC
    >>> window = parse_window(("09:00", "21:00"))
    >>> now = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)          # 08:00 Moscow, 15:00 Vladivostok
    >>> [t.isoformat() for t in window_openings(["Asia/Vladivostok", None], now, window)]
    ['2026-12-01T05:00:00+00:00', '2026-12-01T06:00:00+00:00']
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InputError

__all__ = [
    "DEFAULT_TIME_ZONE",
    "SendWindow",
    "TokenBucket",
    "parse_window",
    "utc_now",
    "window_openings",
]

#: The time zone of a recipient whose zone is unknown.
DEFAULT_TIME_ZONE = "Europe/Moscow"
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def utc_now() -> datetime:
    """The current time, tz-aware UTC (the default ``clock`` of a windowed send).

    Example::

        >>> utc_now().tzinfo is UTC
        True
    """
    return datetime.now(UTC)


@dataclass(frozen=True)
class SendWindow:
    """Local hours when a recipient may get an SMS: ``start <= t < end``, or, when ``end`` is
    earlier than ``start``, across midnight (``t >= start or t < end``).

    Example::

        >>> w = SendWindow(dtime(22, 0), dtime(6, 0))
        >>> w.contains(dtime(23, 30)), w.contains(dtime(12, 0))
        (True, False)
    """

    start: dtime
    end: dtime

    def contains(self, local: dtime) -> bool:
        """Whether the local wall-clock time ``local`` is inside the window."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def opens(self, now: datetime, zone: str | None) -> datetime:
        """When the window is next open in ``zone`` (None: Moscow), as UTC: ``now`` if open now.

        Example::

            >>> w = parse_window(("09:00", "21:00"))
            >>> w.opens(datetime(2026, 12, 1, 18, 30, tzinfo=UTC), "Europe/Moscow").isoformat()
            '2026-12-02T06:00:00+00:00'
        """
        tz = _zone(zone)
        local = now.astimezone(tz)
        if self.contains(local.time().replace(tzinfo=None)):
            return now
        day = local.date()
        # Outside the window: it opens today at ``start`` if that is still ahead, else tomorrow.
        if local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        opening = datetime.combine(day, self.start, tzinfo=tz)
        return opening.astimezone(UTC)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@lru_cache(maxsize=256)
def _zone(name: str | None) -> ZoneInfo:
    """The zone of ``name``; an unknown name means Moscow. Without a time-zone database at all
    (Windows without the ``tzdata`` package) it raises rather than put everyone on Moscow time."""
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    try:
        return ZoneInfo(DEFAULT_TIME_ZONE)
    except ZoneInfoNotFoundError:
        raise RuntimeError(
            "no IANA time-zone database on this system: pip install tzdata"
        ) from None


def _clock_time(value: Any, which: str) -> dtime:
    if isinstance(value, dtime):
        if value.tzinfo is not None:
            raise InputError(
                text=f"the window's {which} is a local time: no tzinfo", field="window"
            )
        return value
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise InputError(
            text=f"the window's {which} must be a local time 'HH:MM' (00:00-23:59), not {value!r}",
            field="window",
        )
    return dtime(int(match[1]), int(match[2]))


def parse_window(window: Any) -> SendWindow:
    """A :class:`SendWindow` from ``("09:00", "21:00")``, ``"09:00-21:00"`` or two ``time`` s.

    Raises :class:`InputError` (``field='window'``) for anything else: an hour past 23, minutes
    missing (``"9"``), a start equal to the end.

    Example::

        >>> str(parse_window("22:00-06:30"))
        '22:00-06:30'
    """
    pair: Any = window
    if isinstance(window, str):
        pair = window.split("-")
    if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise InputError(
            text=f"the window must be (start, end), e.g. ('09:00', '21:00'), not {window!r}",
            field="window",
        )
    start, end = _clock_time(pair[0], "start"), _clock_time(pair[1], "end")
    if start == end:
        raise InputError(
            text=f"the window opens and closes at {start:%H:%M}: give two different times "
            "(or no window)",
            field="window",
        )
    return SendWindow(start, end)


def window_openings(
    zones: Sequence[str | None], now: datetime, window: SendWindow
) -> list[datetime]:
    """For each recipient's time zone, when the window is open for them (``now`` if it is).

    Zones are IANA names; None or an unknown name means Moscow. Computed once per distinct zone.

    Example::

        >>> now = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)   # 23:00 in Moscow
        >>> window_openings([None], now, parse_window("09:00-21:00"))[0].isoformat()
        '2026-12-02T06:00:00+00:00'
    """
    if now.tzinfo is None:
        raise ValueError("now must be tz-aware")
    by_zone: dict[str | None, datetime] = {}
    out: list[datetime] = []
    for zone in zones:
        if zone not in by_zone:
            by_zone[zone] = window.opens(now, zone)
        out.append(by_zone[zone])
    return out


def check_max_per_minute(value: Any) -> float | None:
    """``max_per_minute`` as a positive number (None: no cap), or an :class:`InputError`.

    Example::

        >>> check_max_per_minute(600)
        600.0
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(
            text=f"max_per_minute must be a positive number of SMS per minute, not {value!r}",
            field="max_per_minute",
        )
    if not math.isfinite(value):
        raise InputError(text="max_per_minute must be finite (or None)", field="max_per_minute")
    return float(value)


class TokenBucket:
    """At most ``per_minute`` recipients per minute in the long run, shared by threads.

    The bucket holds up to ``capacity`` tokens (default: 10 seconds' worth, at least 1) and
    starts full; a token is one recipient. :meth:`acquire` takes ``n <= capacity`` tokens,
    sleeping until they have accrued, so over any stretch of ``T`` seconds at most
    ``capacity + per_minute * T / 60`` recipients pass. Requests are served in order (a lock);
    a clock going back counts as no time passed.

    ``clock`` (seconds, monotonic) and ``sleep`` are injectable so tests need no waiting.

    Example::

        >>> now = [0.0]
        >>> bucket = TokenBucket(60, capacity=2, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
        >>> [bucket.acquire(2) for _ in range(3)], now[0]
        ([True, True, True], 4.0)
    """

    def __init__(
        self,
        per_minute: float,
        *,
        capacity: int | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        per_minute = check_max_per_minute(per_minute) or 0.0
        self.rate = per_minute / 60.0
        self.capacity = int(capacity) if capacity is not None else max(1, int(per_minute / 6))
        if self.capacity < 1:
            raise InputError(text="the bucket's capacity must be at least 1", field="capacity")
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self._tokens = float(self.capacity)
        self._last = self._clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last)  # a clock that went back: no time passed
        self._last = now
        self._tokens = min(float(self.capacity), self._tokens + elapsed * self.rate)

    def acquire(self, n: int, stop: threading.Event | None = None) -> bool:
        """Take ``n`` tokens, waiting as long as needed; False (nothing taken) once ``stop`` is set.

        ``n`` above the capacity could never be served: ``ValueError``.
        """
        if n > self.capacity:
            raise ValueError(f"{n} recipients exceed the bucket's capacity {self.capacity}")
        with self._lock:
            while True:
                if stop is not None and stop.is_set():
                    return False
                self._refill()
                # A hair of slack: float accrual must not turn "exactly enough" into another wait.
                if self._tokens + 1e-9 >= n:
                    self._tokens -= n
                    return True
                wait = (n - self._tokens) / self.rate
                if stop is not None and self._sleep is time.sleep:
                    stop.wait(wait)  # a real wait ends at once when the run stops
                else:
                    self._sleep(wait)
