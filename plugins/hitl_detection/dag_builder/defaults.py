"""What every DAG of the project shares: the owner, retries, and deployment-tunable settings.

Kept free of operator imports so a DAG file can take it without slowing its parse.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.configuration import conf

OWNER = "hitl-detection"
# Tunable per deployment in airflow.cfg's [hitl_detection] section or AIRFLOW__HITL_DETECTION__*.
CONF_SECTION = "hitl_detection"
# The price table of run bills: the project's include/ folder, beside plugins/.
DEFAULT_PRICES_FILE = Path(__file__).resolve().parents[3] / "include" / "prices.json"


def default_args() -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(seconds=conf.getint(CONF_SECTION, "retry_delay_seconds", fallback=60)),
        "retry_exponential_backoff": True,
    }


def setting_int(name: str, fallback: int) -> int:
    """A whole number from the [hitl_detection] section."""
    return conf.getint(CONF_SECTION, name, fallback=fallback)


def setting_seconds(name: str, fallback: int) -> timedelta:
    """A duration from the [hitl_detection] section, in seconds."""
    return timedelta(seconds=setting_int(name, fallback))


def prices_file() -> str:
    """The price table run bills are worked out with: `prices_file`, or include/prices.json."""
    return conf.get(CONF_SECTION, "prices_file", fallback=str(DEFAULT_PRICES_FILE))
