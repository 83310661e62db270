"""``python -m targetsms_analytics.emulator --port 8000``: run the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .server import serve


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m targetsms_analytics.emulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m targetsms_analytics.emulator",
        description="Run a TargetSMS-compatible HTTP server on loopback (demo: user demo, pwd demo).",
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--throttle-interval",
        type=float,
        default=60.0,
        help="seconds within which an identical request is refused (default 60)",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="virtual-time factor for message lifecycles"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept per request")
    parser.add_argument("--seed", type=int, default=0, help="random seed for message outcomes")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Parse ``argv`` and serve until Ctrl-C."""
    args = build_parser().parse_args(argv)
    serve(
        args.port,
        host=args.host,
        throttle_interval=args.throttle_interval,
        speed=args.speed,
        latency=args.latency,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
