"""targetsms-analytics: send SMS campaigns through TargetSMS from pandas and report on them.

Example::

    import targetsms_analytics as ts

    client = ts.connect()              # the real service with credentials, else the emulator
    result = ts.send_campaign(client, contacts, "Здравствуйте, {name}!", "SHOP", campaign="spring")
    report = ts.delivery_report(ts.wait_for_final(client, "spring"), by="operator")

The public names are listed, one line each, in ``docs/api.md`` (a test keeps ``__all__`` equal to
it). Plots live in ``targetsms_analytics.plots``, the dashboard in ``targetsms_analytics.widgets``
and the emulator in ``targetsms_analytics.emulator``: all imported on first use (``ts.Emulator``
too), so this import stays light (no matplotlib, ipywidgets, click or http.server).
"""

from typing import TYPE_CHECKING, Any

from .analytics import delivery_report, latency_seconds, packages_frame, spend_between
from .balances import snapshot_balance
from .campaign import estimate_campaign, mark_outcome, resend_unknown, send_campaign
from .client import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    THROTTLE_INTERVAL,
    RetryPolicy,
    TargetSMSClient,
)
from .connect import connect, credentials_available, emulator_of
from .contacts import read_contacts
from .errors import (
    AccountError,
    ConnectError,
    ContentError,
    InputError,
    JournalError,
    QueuedForFundsError,
    ReadError,
    RecipientError,
    SenderError,
    TargetSMSError,
    ThrottledError,
    TransportError,
    UnknownResponseError,
)
from .insight import compare, failure_report
from .numbering import lookup_numbers
from .phones import normalize_phone, operator_of
from .protocol import (
    FINAL_STATES,
    STATES,
    Balance,
    StatusDetail,
    parse_balance,
    parse_status_detail,
)
from .segments import count_parts
from .spending import reconcile_spend
from .statuses import fetch_statuses, load_statuses, wait_for_final
from .store import Journal, campaigns

if TYPE_CHECKING:
    from .emulator import Emulator

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "FINAL_STATES",
    "STATES",
    "THROTTLE_INTERVAL",
    "AccountError",
    "Balance",
    "ConnectError",
    "ContentError",
    "Emulator",
    "InputError",
    "Journal",
    "JournalError",
    "QueuedForFundsError",
    "ReadError",
    "RecipientError",
    "RetryPolicy",
    "SenderError",
    "StatusDetail",
    "TargetSMSClient",
    "TargetSMSError",
    "ThrottledError",
    "TransportError",
    "UnknownResponseError",
    "campaigns",
    "compare",
    "connect",
    "count_parts",
    "credentials_available",
    "delivery_report",
    "emulator_of",
    "estimate_campaign",
    "failure_report",
    "fetch_statuses",
    "latency_seconds",
    "load_statuses",
    "lookup_numbers",
    "mark_outcome",
    "normalize_phone",
    "operator_of",
    "packages_frame",
    "parse_balance",
    "parse_status_detail",
    "read_contacts",
    "reconcile_spend",
    "resend_unknown",
    "send_campaign",
    "snapshot_balance",
    "spend_between",
    "wait_for_final",
]

#: Names imported on first use (module attribute -> submodule), so ``import targetsms_analytics``
#: does not load http.server.
_LAZY = {"Emulator": ".emulator"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
