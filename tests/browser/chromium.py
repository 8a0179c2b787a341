"""Debian's chromium, headless, as the browser tests start it (tests/browser, tests/labelstudio).

Playwright's own browser download is blocked on these machines: the tests drive the chromium that
`make browser-deps` installs from Debian, through the `playwright` package from PyPI.
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# As root on a machine without network: no sandbox, no GPU, and no background calls home.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING = f"{CHROMIUM} is missing: run `make browser-deps` (Debian's chromium)"
