"""targetsms-analytics: send SMS campaigns through TargetSMS from pandas and report on them.

Example::

    import targetsms_analytics as ts

    client = ts.connect()              # the real service with credentials, else the emulator
    result = ts.send_campaign(client, contacts, "Здравствуйте, {name}!", "SHOP", campaign="spring")
    report = ts.delivery_report(ts.wait_for_final(client, "spring"), by="operator")

Plots live in ``targetsms_analytics.plots`` and the dashboard in ``targetsms_analytics.widgets``
(imported on use, so this import stays light).
"""

from .analytics import delivery_report, latency_seconds, packages_frame, spend_between
from .campaign import (
    estimate_campaign,
    mark_outcome,
    resend_unknown,
    send_campaign,
    summarize_estimate,
)
from .client import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    THROTTLE_INTERVAL,
    RetryPolicy,
    TargetSMSClient,
)
from .connect import connect, credentials_available
from .contacts import read_contacts
from .emulator import Emulator
from .errors import (
    AccountError,
    ContentError,
    InputError,
    QueuedForFundsError,
    RecipientError,
    SenderError,
    TargetSMSError,
    ThrottledError,
    TransportError,
    UnknownResponseError,
)
from .insight import compare, failure_report
from .journal import Journal
from .numbering import lookup_numbers
from .phones import check_phone, normalize_phone, normalize_phones, operator_of
from .protocol import (
    FINAL_STATES,
    STATES,
    Balance,
    StatusDetail,
    match_error,
    parse_balance,
    parse_status_detail,
    redact,
)
from .segments import count_parts
from .spending import reconcile_spend
from .statuses import fetch_statuses, load_statuses, wait_for_final

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "FINAL_STATES",
    "STATES",
    "THROTTLE_INTERVAL",
    "AccountError",
    "Balance",
    "ContentError",
    "Emulator",
    "InputError",
    "Journal",
    "QueuedForFundsError",
    "RecipientError",
    "RetryPolicy",
    "SenderError",
    "StatusDetail",
    "TargetSMSClient",
    "TargetSMSError",
    "ThrottledError",
    "TransportError",
    "UnknownResponseError",
    "check_phone",
    "compare",
    "connect",
    "count_parts",
    "credentials_available",
    "delivery_report",
    "estimate_campaign",
    "failure_report",
    "fetch_statuses",
    "latency_seconds",
    "load_statuses",
    "lookup_numbers",
    "mark_outcome",
    "match_error",
    "normalize_phone",
    "normalize_phones",
    "operator_of",
    "packages_frame",
    "parse_balance",
    "parse_status_detail",
    "read_contacts",
    "reconcile_spend",
    "redact",
    "resend_unknown",
    "send_campaign",
    "spend_between",
    "summarize_estimate",
    "wait_for_final",
]
