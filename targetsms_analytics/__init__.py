"""targetsms-analytics: send SMS campaigns through TargetSMS from pandas and report on them.

Example::

    import targetsms_analytics as ts

    with ts.Emulator(throttle_interval=1.0) as emu:
        client = ts.TargetSMSClient("demo", "demo", url=emu.url,
                                    throttle_interval=emu.throttle_interval)
        print(client.balance())
"""

from .client import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    THROTTLE_INTERVAL,
    RetryPolicy,
    TargetSMSClient,
)
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
    "InputError",
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
    "match_error",
    "parse_balance",
    "parse_status_detail",
    "redact",
]
