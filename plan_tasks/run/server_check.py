"""Which Prefect server a run will use, whether it answers, and the start-up line.

Read before Prefect is imported (that import costs over a second): a run
against a configured server that does not answer ends at once with exit code
3 and one line naming the URL, with nothing written; a run that starts its own
local server says so on its first line, at once, and counts the seconds until
the server is up (the very first start also prepares Prefect's database).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

HEALTH_TIMEOUT_SECONDS = 3.0


def configured_api_url() -> str | None:
    """``PREFECT_API_URL`` from the environment, else from the active Prefect profile.

    The same two places Prefect reads it from first; its rarer sources
    (``prefect.toml``, ``.env``) are seen only once Prefect is imported
    (``local_server.prefect_api`` checks them too).
    """
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        text = profiles.read_text(encoding="utf-8")
    except OSError:
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        document = tomllib.loads(text)
    except ValueError:
        return None  # Prefect itself will say what is wrong with it
    active = os.environ.get("PREFECT_PROFILE") or document.get("active") or "ephemeral"
    value = (document.get("profiles") or {}).get(active, {}).get("PREFECT_API_URL")
    return str(value) if value else None


def unreachable(api_url: str) -> str | None:
    """Why the Prefect API at ``api_url`` does not answer its health check (None when it does)."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=HEALTH_TIMEOUT_SECONDS) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} {error.reason}"
    except urllib.error.URLError as error:
        reason = error.reason
        return getattr(reason, "strerror", None) or str(reason)
    except (OSError, ValueError) as error:
        return getattr(error, "strerror", None) or str(error)


def current_api_url() -> str:
    """The API URL Prefect uses now (Prefect is imported on this path already)."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


class StartupNotice:
    """``starting a local Prefect server (first start prepares its database)... 3 s``

    Printed at once; on a terminal the seconds count up in place until
    :meth:`ready`; elsewhere (CI logs) one line at the start and one when ready.
    """

    TEXT = "starting a local Prefect server (first start prepares its database)..."

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._began = time.monotonic()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stream.write(self.TEXT + ("" if self._live else "\n"))
        self._stream.flush()
        if self._live:
            self._thread = threading.Thread(target=self._tick, name="plan-tasks-startup", daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while not self._done.wait(1.0):
            self._stream.write(f"\r{self.TEXT} {time.monotonic() - self._began:.0f} s")
            self._stream.flush()

    def ready(self, api_url: str) -> None:
        """The server answers: say where, and how long it took."""
        self._finish(f"local Prefect server ready at {api_url.removesuffix('/api')} "
                     f"in {time.monotonic() - self._began:.1f} s")

    def stop(self) -> None:
        """End the counting line if :meth:`ready` never came (the start failed or was interrupted)."""
        self._finish(None)

    def _finish(self, message: str | None) -> None:
        if self._done.is_set():
            return
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if self._live:
            self._stream.write("\r\x1b[K" if message else "\n")
        if message:
            self._stream.write(message + "\n")
        self._stream.flush()
