"""`report run --notify`: a short summary of a finished run, posted to a Slack-compatible webhook.

The summary says what changed (new, persisting and resolved findings), names the top new
findings, warns when the data was stale or had gaps, and points to the HTML. It is posted with
the alerts' webhook code (`accessmon.webhook`: retries with back-off, a deadline, no
redirects) and every attempt's outcome is one audit line that names the URL's host only
(a Slack hook's path is its secret).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from accessmon import webhook
from accessmon.errors import ConfigError
from accessmon.storage import audit

if TYPE_CHECKING:
    from accessmon.config import Config
    from accessmon.reports.notebook import Rendered
    from accessmon.reports.results import Finding, ReportRun
    from accessmon.session import Session

#: New findings named in the summary, at most.
TOP_NEW = 5


def webhook_url(config: Config) -> str:
    """report.webhook_url, else alerts.webhook_url; neither set is an error that says where to
    set one, raised before the report runs."""
    url = config.report.webhook_url or config.alerts.webhook_url
    if not url:
        where = f" in {config.source}" if config.source else " in accessmon.yaml"
        raise ConfigError(
            f"--notify needs a webhook: set report.webhook_url (or alerts.webhook_url){where}"
        )
    return url


def _escape(text: object) -> str:
    """Slack's three control characters as its entities: a user name or node name from the
    audit log (`<https://evil|click>`) must not become a link or a mention."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _key_text(finding: Finding) -> str:
    return ", ".join(f"{k}={v}" for k, v in finding.key.items()) or "(no key)"


def summary_text(run: ReportRun, path: Path | str) -> str:
    """Slack mrkdwn: title and window, the counts, data-quality warnings, the top new
    findings (largest measure first) and where the HTML is."""
    totals = {k: 0 for k in ("new", "persisting", "resolved", "suppressed", "open")}
    for q in run.queries:
        for k, v in q.counts().items():
            totals[k] = totals.get(k, 0) + v
    window = run.window
    lines = [f"*{_escape(run.title)}* ({run.name}): {window['start']} to {window['end']}"]
    counts = (
        f"{totals['new']} new, {totals['persisting']} persisting, {totals['resolved']} resolved"
    )
    if totals["suppressed"]:
        counts += f" ({totals['suppressed']} suppressed)"
    lines.append(counts)
    if run.state != "SUCCESS":
        failed = [q.name for q in run.queries if q.error]
        lines.append(f":warning: state {run.state}: failed queries: {', '.join(failed)}")
    warnings = (run.quality or {}).get("warnings") or []
    if warnings:
        lines.append(f":warning: data quality: {_escape(warnings[0])}"
                     + (f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else ""))  # fmt: skip
    new = [(q.title, f) for q in run.queries for f in q.items if f.status == "new" and f.is_open]
    new.sort(key=lambda pair: -pair[1].measure)
    if new:
        lines.append("Top new findings:")
        lines += [f"• {_escape(title)}: {_escape(_key_text(f))} ({f.measure})"
                  for title, f in new[:TOP_NEW]]  # fmt: skip
        if len(new) > TOP_NEW:
            lines.append(f"… and {len(new) - TOP_NEW} more")
    lines.append(f"Report: {_escape(path)}")
    return "\n".join(lines)


def send(session: Session, run: ReportRun, path: Path | str) -> webhook.Delivery:
    """Post the summary of `run` (its HTML at `path`); one audit line, delivered or not.
    Never raises for a failed delivery: the caller decides what it means for the command."""
    url = webhook_url(session.config)
    alerts = session.config.alerts
    payload: dict[str, Any] = {"text": summary_text(run, path)}
    done = webhook.post_json(
        url, payload, timeout=alerts.webhook_timeout_seconds, retries=alerts.webhook_retries
    )
    host = webhook.url_host(url)
    done.detail = done.detail.replace(url, f"the webhook at {host}")
    session.audit(
        audit.REPORT_NOTIFY,
        success=done.ok,
        error=None if done.ok else done.detail,
        name=run.name,
        run_id=run.run_id or None,
        host=host,
        attempts=done.attempts,
        status=done.status,
        html=str(path),
    )
    return done


def notify_rendered(session: Session, rendered: Rendered) -> tuple[bool, str]:
    """`report run --notify` after one report's files are written: post its summary; whether
    it was delivered, and the one line that says so."""
    from accessmon.reports.results import read_results

    path = (rendered.html or rendered.notebook or rendered.results).resolve()  # for the reader
    done = send(session, read_results(rendered.results), path)
    if done.ok:
        return True, f"notified: {rendered.name}: {done.detail}"
    return False, (f"error: --notify: {rendered.name}: {done.detail} "
                   "(the report's files are written)")  # fmt: skip
