"""One call for notebooks and demos: the real service when credentials are set, else the emulator.

Example::

    import targetsms_analytics as ts

    client = ts.connect()          # TARGETSMS_USER/PASSWORD set (or in .env)? the real service
    ts.emulator_of(client)         # None there; here, the embedded Emulator it started
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import TYPE_CHECKING, Any

from .client import TargetSMSClient, load_env_file

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["DEMO_EMULATOR", "connect", "credentials_available", "emulator_of"]

#: Emulator settings for demos: lifecycles compressed about 100×, a 2 s identical-request interval.
DEMO_EMULATOR: dict[str, Any] = {
    "speed": 100.0,
    "delivery_delay": (5.0, 120.0),
    "throttle_interval": 2.0,
    "seed": 7,
}

#: The emulator ``connect()`` started for a client, keyed weakly by the client (the client itself
#: knows nothing of emulators). An entry goes when its client is collected; WeakKeyDictionary's
#: removal callback takes no lock, so it is safe inside a garbage collection. The emulator itself
#: is stopped at exit (an emulator started by ``connect()`` serves until then, as documented).
_STARTED: weakref.WeakKeyDictionary[TargetSMSClient, Emulator] = weakref.WeakKeyDictionary()


def credentials_available() -> bool:
    """True when ``TARGETSMS_USER`` and ``TARGETSMS_PASSWORD`` are set (a ``.env`` file counts).

    Example: ``if not ts.credentials_available(): print("running against the emulator")``.
    """
    load_env_file()
    return bool(os.environ.get("TARGETSMS_USER") and os.environ.get("TARGETSMS_PASSWORD"))


def connect(*, emulator: bool | None = None, **settings: Any) -> TargetSMSClient:
    """A client for the real service if credentials are set, otherwise for an embedded emulator.

    ``emulator=True`` forces the emulator, ``False`` forces the real service. The emulator is
    started with ``DEMO_EMULATOR`` settings and serves until the process exits;
    ``ts.emulator_of(client)`` returns it (None for the real service). ``settings`` go to
    ``TargetSMSClient``.

    Example::

        client = ts.connect()
        print(client.balance())
    """
    use_emulator = (not credentials_available()) if emulator is None else emulator
    if not use_emulator:
        return TargetSMSClient.from_env(**settings)
    from .emulator import Emulator

    emu = Emulator(**DEMO_EMULATOR).start()
    atexit.register(emu.stop)
    settings.setdefault("throttle_interval", emu.throttle_interval)
    client = TargetSMSClient("demo", "demo", url=emu.url, **settings)
    _STARTED[client] = emu
    return client


def emulator_of(client: TargetSMSClient) -> Emulator | None:
    """The emulator ``connect()`` started for ``client``, or None (the real service, or a client
    built by hand).

    Example::

        client = ts.connect()
        if ts.emulator_of(client) is not None:
            print("no real SMS are sent")
    """
    return _STARTED.get(client)
