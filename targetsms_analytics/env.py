"""The working directory's ``.env`` file: settings (credentials, endpoint, store) read into
``os.environ`` by whichever layer needs one first, the client or the store.

Example::

    from targetsms_analytics.env import load_env_file

    load_env_file()
    os.environ.get("TARGETSMS_STORE")
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["load_env_file"]


def load_env_file() -> None:
    """Read the working directory's ``.env`` file (only there, never a parent's) into ``os.environ``.

    Variables already set win. Example: ``load_env_file(); os.environ.get("TARGETSMS_USER")``.
    """
    from dotenv import load_dotenv

    path = Path.cwd() / ".env"
    if path.is_file():
        load_dotenv(path, override=False)
