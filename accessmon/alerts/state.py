"""The de-duplication state that concurrent alert runs share: cooldowns and kept deliveries.

One JSON file: rule -> key -> when it last alerted, plus the webhook deliveries that failed.
Every change is a locked read-modify-write ending in an atomic write, so two overlapping runs
(cron and an analyst) never both alert on one key, nor both resend one delivery.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from accessmon._io import atomic_write_text, utc_timestamp
from accessmon.errors import AlertStateError
from accessmon.storage.locks import exclusive

STATE_LOCK_WAIT_SECONDS = 30.0
#: Where the state file keeps failed webhook deliveries, per rule (rule names never start
#: with `_`), and how many it keeps per rule: the oldest go first.
PENDING = "_pending_deliveries"
MAX_PENDING = 50


def _state_lock(state_file: Path, wait_seconds: float):
    path = state_file.with_name(state_file.name + ".lock")
    return exclusive(
        path,
        wait_seconds,
        lambda: AlertStateError(f"another alert run holds {path}; try again later"),
    )


def read_state(state_file: Path) -> dict[str, dict[str, Any]]:
    """rule -> key -> when it last alerted (RFC 3339, UTC)."""
    if not state_file.is_file():
        return {}
    try:
        data = json.loads(state_file.read_text(encoding="utf-8") or "{}")
    except (OSError, json.JSONDecodeError) as e:
        raise AlertStateError(
            f"alert state {state_file} is unreadable ({e}); fix it or delete it to start afresh"
        ) from None
    if not isinstance(data, dict):
        raise AlertStateError(f"alert state {state_file} is not a JSON object; delete it")
    return {str(r): dict(v) for r, v in data.items() if isinstance(v, dict)}


@contextmanager
def _locked(state_file: Path, wait_seconds: float) -> Iterator[dict[str, dict[str, Any]]]:
    """The state, read under the lock; the caller `_write`s it back if it changed."""
    with _state_lock(state_file, wait_seconds):
        yield read_state(state_file)


def _write(state_file: Path, state: dict[str, dict[str, Any]]) -> None:
    atomic_write_text(json.dumps(state, indent=1, sort_keys=True), state_file)


def _within(stamp: str | None, now: dt.datetime, cooldown: dt.timedelta) -> bool:
    """Whether an alert recorded at `stamp` still holds back a new one."""
    if not isinstance(stamp, str):
        return False
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    return now - when < cooldown


def claim(
    state_file: Path,
    rule: str,
    keys: Sequence[str],
    cooldown: dt.timedelta,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    wait_seconds: float = STATE_LOCK_WAIT_SECONDS,
) -> set[str]:
    """The keys that may alert now, recorded as alerted (unless dry run) in one locked
    read-modify-write, so two overlapping runs never both alert on the same key."""
    with _locked(state_file, wait_seconds) as state:
        seen = state.get(rule, {})
        fresh = {k for k in keys if not _within(seen.get(k), now, cooldown)}
        if fresh and not dry_run:
            kept = {k: v for k, v in seen.items() if _within(v, now, cooldown)}
            kept.update({k: utc_timestamp(now) for k in fresh})
            state[rule] = kept
            _write(state_file, state)
        return fresh


def release(
    state_file: Path,
    rule: str,
    keys: Iterable[str],
    now: dt.datetime,
    *,
    wait_seconds: float = STATE_LOCK_WAIT_SECONDS,
) -> None:
    """Undo `claim` for keys whose actions failed, so the next run alerts on them again:
    the cooldown is kept only for alerts that were acted on."""
    with _locked(state_file, wait_seconds) as state:
        seen = state.get(rule, {})
        mine = utc_timestamp(now)
        dropped = {k for k in keys if seen.get(k) == mine}
        if dropped:
            state[rule] = {k: v for k, v in seen.items() if k not in dropped}
            _write(state_file, state)


def keep_delivery(
    state_file: Path,
    rule: str,
    delivery: dict[str, Any],
    *,
    wait_seconds: float = STATE_LOCK_WAIT_SECONDS,
) -> None:
    """Keep a failed webhook delivery (url and payload) for the next run of `rule`."""
    delivery = {"failed_at": utc_timestamp(), **delivery}
    with _locked(state_file, wait_seconds) as state:
        pending = state.get(PENDING, {})
        kept = [d for d in pending.get(rule, []) if isinstance(d, dict)] + [delivery]
        pending[rule] = kept[-MAX_PENDING:]
        state[PENDING] = pending
        _write(state_file, state)


def take_deliveries(
    state_file: Path, rule: str, *, wait_seconds: float = STATE_LOCK_WAIT_SECONDS
) -> list[dict[str, Any]]:
    """The failed deliveries kept for `rule`, removed from the state in the same locked step,
    so two overlapping runs never both send one."""
    with _locked(state_file, wait_seconds) as state:
        pending = state.get(PENDING, {})
        taken = pending.pop(rule, None)
        if not taken:
            return []
        state[PENDING] = pending
        _write(state_file, state)
    return [d for d in taken if isinstance(d, dict) and d.get("url") and "payload" in d]
