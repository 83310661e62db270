"""A TargetSMS-compatible HTTP server for demos and integration tests.

It shares nothing with the client but ``API.md``: its own error texts, GSM-7 part counter and PHP
serializer, so a bug on one side cannot hide in the other. Standard library only.

>>> from targetsms_analytics.emulator import Emulator
>>> with Emulator() as emu:          # doctest: +SKIP
...     print(emu.url)
http://127.0.0.1:PORT/sendsms.php
"""

from __future__ import annotations

from .gsm import sms_parts
from .phpser import php_serialize
from .server import ENDPOINT, Emulator, serve
from .state import (
    DEFAULT_OUTCOMES,
    DEFAULT_STOP_LIST,
    FAULT_KINDS,
    FIRST_SMS_ID,
    Account,
    Message,
    QueuedSend,
    Sender,
)

__all__ = [
    "DEFAULT_OUTCOMES",
    "DEFAULT_STOP_LIST",
    "ENDPOINT",
    "FAULT_KINDS",
    "FIRST_SMS_ID",
    "Account",
    "Emulator",
    "Message",
    "QueuedSend",
    "Sender",
    "php_serialize",
    "serve",
    "sms_parts",
]
