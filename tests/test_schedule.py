"""schedule.py: send windows in local time and the token bucket, with injected time only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targetsms_analytics.errors import InputError
from targetsms_analytics.schedule import (
    SendWindow,
    TokenBucket,
    check_max_per_minute,
    parse_window,
    window_openings,
)

# No deadline: the suite must pass on a busy machine (set per test, not as a global profile).
PROPERTY = settings(deadline=None, max_examples=300)

ZONES = ["Europe/Kaliningrad", "Europe/Moscow", "Asia/Yekaterinburg", "Asia/Vladivostok",
         "Asia/Kamchatka", None]  # fmt: skip
times = st.times().map(lambda t: t.replace(second=0, microsecond=0))
instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@pytest.mark.parametrize(
    "window",
    [("25:00", "9"), ("9", "21:00"), ("09:00",), "0900-2100", ("09:60", "21:00"), ("09:00", "09:00"),
     None, 9, ("09:00", 21)],
)  # fmt: skip
def test_bad_windows_name_the_argument(window):
    with pytest.raises(InputError) as info:
        parse_window(window)
    assert info.value.field == "window"


def test_window_forms():
    assert parse_window(("9:00", "21:00")) == SendWindow(dtime(9), dtime(21))
    assert parse_window("22:00-06:30") == SendWindow(dtime(22), dtime(6, 30))
    assert parse_window([dtime(8), dtime(20)]) == SendWindow(dtime(8), dtime(20))


def test_vladivostok_at_eight_moscow_is_open_moscow_waits_an_hour():
    now = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # 08:00 Moscow, 15:00 Vladivostok
    opens = window_openings(ZONES, now, parse_window(("09:00", "21:00")))
    assert opens[3] == now  # Vladivostok
    assert opens[1] == opens[5] == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # Moscow, unknown
    assert opens[0] == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # Kaliningrad 09:00 = 07:00 UTC
    assert opens[4] == now  # Kamchatka: 17:00


def test_unknown_zone_names_mean_moscow():
    now = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    w = parse_window("09:00-21:00")
    assert window_openings(["Mars/Olympus"], now, w) == window_openings([None], now, w)


@PROPERTY
@given(times, times, instants, st.sampled_from(ZONES))
def test_the_opening_is_inside_the_window_and_nothing_earlier_is(start, end, now, zone):
    if start == end:
        return
    window = SendWindow(start, end)
    opens = window.opens(now, zone)
    tz = ZoneInfo(zone or "Europe/Moscow")
    assert opens >= now
    assert window.contains(opens.astimezone(tz).time())
    assert opens - now <= timedelta(days=1)
    if opens > now:
        # Closed all the way from now to the opening (checked each minute before it).
        assert not window.contains(now.astimezone(tz).time())
        step = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while step < opens:
            assert not window.contains(step.astimezone(tz).time()), step
            step += timedelta(minutes=37)


def test_a_window_across_midnight():
    w = parse_window(("22:00", "06:00"))
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 12:00 Moscow
    assert w.opens(at, None) == datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    late = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # 02:00 Moscow, next day
    assert w.opens(late, None) == late


@pytest.mark.parametrize("bad", [0, -5, "10", True, float("inf"), float("nan")])
def test_max_per_minute_must_be_positive(bad):
    with pytest.raises(InputError) as info:
        check_max_per_minute(bad)
    assert info.value.field == "max_per_minute"


class FakeTime:
    """A clock that moves only when someone sleeps (thread-safe)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


@PROPERTY
@given(st.lists(st.integers(1, 10), min_size=1, max_size=200), st.integers(1, 600))
def test_the_bucket_never_lets_more_than_capacity_plus_rate_times_time(sizes, per_minute):
    fake = FakeTime()
    bucket = TokenBucket(per_minute, clock=fake.clock, sleep=fake.sleep)
    sizes = [min(s, bucket.capacity) for s in sizes]
    passed = 0
    for n in sizes:
        assert bucket.acquire(n)
        passed += n
        assert passed <= bucket.capacity + per_minute * fake.now / 60 + 1e-6
    # and it is not slower than needed: it only ever waited for tokens it then used
    assert fake.now == pytest.approx(max(0, passed - bucket.capacity) * 60 / per_minute)


def test_the_bucket_is_shared_by_threads():
    fake = FakeTime()
    bucket = TokenBucket(120, capacity=5, clock=fake.clock, sleep=fake.sleep)
    done: list[float] = []

    def worker() -> None:
        for _ in range(20):
            bucket.acquire(3)
            done.append(fake.clock())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 80
    assert 80 * 3 <= 5 + 120 * fake.now / 60 + 1e-6


def test_a_stopped_run_takes_no_tokens():
    stop = threading.Event()
    stop.set()
    fake = FakeTime()
    bucket = TokenBucket(60, clock=fake.clock, sleep=fake.sleep)
    assert bucket.acquire(1, stop) is False


def test_a_clock_going_back_adds_no_tokens():
    now = [100.0]
    bucket = TokenBucket(60, capacity=1, clock=lambda: now[0], sleep=lambda s: None)
    assert bucket.acquire(1)
    now[0] = 50.0  # the clock jumped back
    slept: list[float] = []
    bucket._sleep = lambda s: (slept.append(s), now.__setitem__(0, now[0] + s))
    assert bucket.acquire(1)
    assert slept and slept[0] == pytest.approx(1.0)
