"""Suppressions: `kind: suppression` resources that accept a report's findings as known
exceptions, for a limited time, one YAML file each in `suppressions_dir`.

Every suppression expires (at most `report.suppression_max_days` after it was created), so an
accepted risk comes back to the worklist unless someone looks at it again. A suppressed
finding is not open; one whose suppression expired is open again and says so; a suppression
that matches nothing is stale, which is worth knowing before it hides a new finding.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accessmon._io import atomic_write_text, utc_now
from accessmon.errors import AccessmonError, ConfigError, InvalidName
from accessmon.names import NAME_PATTERN, check_name, did_you_mean
from accessmon.resources import load_document_node, validation_error, where
from accessmon.storage import audit

if TYPE_CHECKING:
    from accessmon.config import Config
    from accessmon.reports.definitions import ReportDefinition
    from accessmon.reports.results import ReportRun
    from accessmon.session import Session

#: A `created` this far ahead of the clock is a mistake (or a way around the longest
#: lifetime); less is clock skew between machines.
_FUTURE_TOLERANCE = dt.timedelta(hours=1)
_EXTENSIONS = (".yaml", ".yml")


def as_utc(moment: dt.datetime | dt.date) -> dt.datetime:
    """A timezone-aware UTC datetime: naive times are taken as UTC, a date as its midnight."""
    if not isinstance(moment, dt.datetime):
        return dt.datetime.combine(moment, dt.time(), dt.UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def iso(moment: dt.datetime) -> str:
    """UTC to the second, as the resource files and the results write it: 2027-01-15T00:00:00Z."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_text(value: Any) -> str:
    """A key value as the match patterns see it: SQL NULL as '', booleans as true/false,
    dates in ISO form, everything else as str()."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def pattern_matches(value: Any, pattern: str) -> bool:
    """An exact value, or an fnmatch glob (case-sensitive): `db[1]` still matches itself."""
    text = as_text(value)
    return text == pattern or fnmatch.fnmatchcase(text, pattern)


class Suppression(BaseModel):
    """One `kind: suppression` resource; `source` names its file in messages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["suppression"]
    name: str = Field(pattern=rf"^{NAME_PATTERN}$")
    report: str = Field(min_length=1)
    #: None: every query of the report
    query: str | None = None
    #: key column -> exact value or glob; every one must match
    match: dict[str, str] = Field(min_length=1)
    owner: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    created: dt.datetime
    expires: dt.datetime
    ticket: str | None = None
    source: str = Field(default="", exclude=True)

    @field_validator("created", "expires", mode="before")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a time: write 2027-01-15T00:00:00Z or 2027-01-15"
                ) from None
        if isinstance(value, dt.date):
            return as_utc(value)
        return value

    @field_validator("match", mode="before")
    @classmethod
    def _match_texts(cls, value: Any) -> Any:
        """YAML reads `host_id: 1234` as a number and `ok: yes` as a boolean: both are compared
        as text, so they are kept as text; a list or a null is refused."""
        if not isinstance(value, Mapping):
            return value
        out = {}
        for column, pattern in value.items():
            if pattern is None or isinstance(pattern, list | dict):
                raise ValueError(f"{column}: give one value or glob, not {pattern!r}")
            out[column] = as_text(pattern)
        return out

    @field_validator("reason", "owner")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("ticket")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    # -- state ------------------------------------------------------------------------------

    def is_expired(self, now: dt.datetime) -> bool:
        return as_utc(now) >= self.expires

    def days_left(self, now: dt.datetime) -> int:
        """Whole days until it expires, a part day counted whole (1 in its last day, so that
        0 means expired)."""
        left = self.expires - as_utc(now)
        return max(0, math.ceil(left / dt.timedelta(days=1)))

    def covers(self, report: str, query: str, key: Mapping[str, Any]) -> bool:
        """Whether it is about this finding: the report, the query (or all of them), and
        every match pattern against the key column of the same name."""
        if self.report != report or self.query not in (None, query):
            return False
        return all(col in key and pattern_matches(key[col], p) for col, p in self.match.items())

    def summary(
        self, now: dt.datetime, matched: int | None = None, ran: bool = True
    ) -> dict[str, Any]:
        """The agreed shape of `ReportRun.suppressions` (without `matched` outside a run, and
        with status active or expired only: stale needs a run, and `ran` False says that no
        query it is about ran without an error, so matching nothing proves nothing)."""
        expired = self.is_expired(now)
        status = "expired" if expired else ("stale" if matched == 0 and ran else "active")
        out: dict[str, Any] = {
            "name": self.name,
            "report": self.report,
            "query": self.query,
            "match": dict(self.match),
            "owner": self.owner,
            "reason": self.reason,
            "created": iso(self.created),
            "expires": iso(self.expires),
            "days_left": self.days_left(now),
            "ticket": self.ticket,
        }
        if matched is not None:
            out["matched"] = matched
        out["status"] = status
        return out

    def to_yaml(self) -> str:
        doc: dict[str, Any] = {
            "kind": "suppression",
            "name": self.name,
            "report": self.report,
            **({"query": self.query} if self.query else {}),
            "match": dict(self.match),
            "owner": self.owner,
            "reason": self.reason,
            "created": iso(self.created),
            "expires": iso(self.expires),
            **({"ticket": self.ticket} if self.ticket else {}),
        }
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# -- checking one resource -------------------------------------------------------------------


def _max_days_where(config: Config | None) -> str:
    source = getattr(config, "source", None)
    return f"report.suppression_max_days in {source or 'accessmon.yaml'}"


def check(
    s: Suppression,
    *,
    source: object,
    node: yaml.Node | None,
    definitions: Mapping[str, ReportDefinition] | None,
    max_days: int,
    config: Config | None = None,
    now: dt.datetime | None = None,
) -> Suppression:
    """What the model alone cannot know: the lifetime allowed by the configuration, the
    clock, and the report and query it names. Errors name the file and line of the field."""
    now = as_utc(now or utc_now())
    if s.expires <= s.created:
        raise ConfigError(
            f"{where(source, node, ('expires',))}: expires: {iso(s.expires)} is not after "
            f"created ({iso(s.created)})"
        )
    if s.created > now + _FUTURE_TOLERANCE:
        raise ConfigError(
            f"{where(source, node, ('created',))}: created: {iso(s.created)} is in the future"
        )
    if s.expires - s.created > dt.timedelta(days=max_days):
        days = (s.expires - s.created) / dt.timedelta(days=1)
        raise ConfigError(
            f"{where(source, node, ('expires',))}: expires: {iso(s.expires)} is {days:g} days "
            f"after created; a suppression lasts at most {max_days} days "
            f"({_max_days_where(config)})"
        )
    if definitions is None:
        return s
    report = definitions.get(s.report)
    if report is None:
        raise ConfigError(
            f"{where(source, node, ('report',))}: report: no report {s.report}"
            f"{did_you_mean(s.report, definitions)}"
        )
    queries = {q.name: q for q in report.queries}
    if s.query is not None and s.query not in queries:
        raise ConfigError(
            f"{where(source, node, ('query',))}: query: report {s.report} has no query "
            f"{s.query}{did_you_mean(s.query, queries)}"
        )
    targets = [queries[s.query]] if s.query is not None else list(queries.values())
    keys = [getattr(q, "finding_key", None) for q in targets]
    if not all(keys):  # a query without a declared key: its columns are known when it runs
        return s
    what = f"query {s.query}" if s.query else f"report {s.report}"
    allowed = set().union(*keys)
    for column in s.match:
        if column not in allowed:
            raise ConfigError(
                f"{where(source, node, ('match', column))}: match: {column} is not a key "
                f"column of {what} ({', '.join(sorted(allowed))}){did_you_mean(column, allowed)}"
            )
    if not any(set(s.match) <= set(k) for k in keys):  # it could never match a finding
        raise ConfigError(
            f"{where(source, node, ('match',))}: match: no query of {what} has all of "
            f"{', '.join(s.match)} in its key: name one query, or match on the key columns of one"
        )
    return s


def parse(
    text: str,
    source: object,
    *,
    definitions: Mapping[str, ReportDefinition] | None = None,
    max_days: int = 90,
    config: Config | None = None,
    now: dt.datetime | None = None,
) -> Suppression:
    """One `kind: suppression` document, checked whole; errors say `file:line: field: why`."""
    doc, node = load_document_node(text, source)
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a kind: suppression mapping")
    if "source" in doc:  # set from the file, never read from it
        raise ConfigError(f"{where(source, node, ('source',))}: source: unknown field")
    try:
        s = Suppression.model_validate({**doc, "source": str(source)})
    except ValidationError as e:
        raise validation_error(e, source, node, Suppression) from None
    stem = Path(str(source)).stem
    if isinstance(source, Path) and stem != s.name:
        raise ConfigError(
            f"{where(source, node, ('name',))}: name: {s.name} is not the file's name "
            f"({stem}): rename one of them"
        )
    return check(s, source=source, node=node, definitions=definitions, max_days=max_days,
                 config=config, now=now)  # fmt: skip


# -- the folder ------------------------------------------------------------------------------


def _config(source: Session | Config) -> Config:
    return getattr(source, "config", source)


def _files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in _EXTENSIONS and p.is_file()
                  and not p.name.startswith("."))  # fmt: skip


def _named_report(text: str) -> str | None:
    """The `report:` a file names, read leniently, to tell whose problem a broken file is."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    value = doc.get("report") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def load_suppressions(
    source: Session | Config,
    *,
    report: str | None = None,
    errors: list[str] | None = None,
    now: dt.datetime | None = None,
) -> list[Suppression]:
    """Every suppression in `suppressions_dir` (of `report` only, when given), checked
    against the report definitions and the configured longest lifetime.

    A bad file raises ConfigError naming its file and line; with an `errors` list, its message
    is appended there instead and the others still load: a report run lists it as a warning
    and goes on (leaving out broken files whose `report:` names another report)."""
    from accessmon.reports.definitions import load_definitions

    config = _config(source)
    definitions, _ = load_definitions(Path(config.reports_dir))
    max_days = config.report.suppression_max_days
    found: list[Suppression] = []
    for path in _files(Path(config.suppressions_dir)):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            problem = ConfigError(f"{path}: cannot read suppression: {e}")
            if errors is None:
                raise problem from None
            errors.append(str(problem))
            continue
        try:
            s = parse(text, path, definitions=definitions, max_days=max_days, config=config,
                      now=now)  # fmt: skip
        except ConfigError as e:
            if errors is None:
                raise
            if report is None or _named_report(text) in (None, report):
                errors.append(str(e))
            continue
        if report is None or s.report == report:
            found.append(s)
    return found


def _existing(config: Config, name: str) -> Path | None:
    """The file of the suppression of this name, None when there is none (or the name could
    not be a file's: the caller refuses it, audited)."""
    try:
        check_name(name, "suppression")
    except InvalidName:
        return None
    directory = Path(config.suppressions_dir)
    return next((directory / f"{name}{ext}" for ext in _EXTENSIONS
                 if (directory / f"{name}{ext}").is_file()), None)  # fmt: skip


def derived_name(report: str, query: str | None, match: Mapping[str, str]) -> str:
    """A name that says what is suppressed, the same for the same report, query and match (so
    adding the same suppression twice finds the first): `<query>-<values>-<hash>`."""
    canonical = json.dumps([report, query, sorted(match.items())])
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:6]
    values = [re.sub(r"[^A-Za-z0-9_.-]+", "_", v).strip("_.-") for v in match.values()]
    stem = "-".join([query or report, *(v for v in values if v)])[:110].rstrip("_.-")
    return f"{stem}-{digest}"


# -- what the commands do, checked and audited ------------------------------------------------


def _audit_fields(s: Suppression | None, **fields: Any) -> dict[str, Any]:
    if s is not None:
        fields = {"name": s.name, "report": s.report, "query": s.query, "match": dict(s.match),
                  "expires": iso(s.expires), "owner": s.owner, **fields}  # fmt: skip
    return fields


_CLI = "<command line>"


def _as_flags(e: ConfigError) -> ConfigError:
    """`<command line>: match.user: problem` as the analyst typed it: `--match: problem`."""
    text = str(e).removeprefix(f"{_CLI}: ")
    return ConfigError(re.sub(r"^(\w+)(?:\.\S+)?: ", r"--\1: ", text))


def add_suppression(
    session: Session,
    *,
    report: str,
    query: str | None,
    match: Mapping[str, str],
    reason: str,
    expires: dt.datetime,
    owner: str | None = None,
    ticket: str | None = None,
    name: str | None = None,
    force: bool = False,
    now: dt.datetime | None = None,
) -> tuple[Suppression, Path]:
    """Write a new suppression (`create` on suppression); with `force`, replace the one of the
    same name (`update`). Allowed or refused, one audit line says what was asked."""
    from accessmon.reports.definitions import load_definitions

    config = session.config
    now = as_utc(now or utc_now()).replace(microsecond=0)
    name = name or derived_name(report, query, match)
    path = _existing(config, name)
    update = force and path is not None
    fields = {"name": name, "report": report, "query": query, "match": dict(match),
              "expires": iso(expires), "owner": owner or session.user,
              "reason": reason, "ticket": ticket}  # fmt: skip
    kind = audit.SUPPRESSION_UPDATE if update else audit.SUPPRESSION_CREATE
    with session.checked(kind, "update" if update else "create", "suppression", **fields):
        check_name(name, "suppression")  # a refused name is audited too
        if path is not None and not force:
            raise AccessmonError(
                f"suppression {name} exists ({path}): remove it with `accessmon suppress rm "
                f"{name}`, or replace it with --force"
            )
        try:
            s = Suppression(kind="suppression", name=name, report=report, query=query,
                            match=dict(match), owner=owner or session.user, reason=reason,
                            created=now, expires=as_utc(expires), ticket=ticket,
                            source=_CLI)  # fmt: skip
        except ValidationError as e:
            raise _as_flags(validation_error(e, _CLI, None, Suppression)) from None
        definitions, _ = load_definitions(Path(config.reports_dir))
        try:
            check(s, source=_CLI, node=None, definitions=definitions,
                  max_days=config.report.suppression_max_days, config=config, now=now)  # fmt: skip
        except ConfigError as e:
            raise _as_flags(e) from None
        path = atomic_write_text(
            s.to_yaml(), path or Path(config.suppressions_dir) / f"{name}.yaml"
        )
    return s, path


def list_suppressions(
    session: Session, report: str | None = None, errors: list[str] | None = None
) -> list[Suppression]:
    """The suppressions (of `report`), `list` on suppression, audited with how many."""
    with session.checked(audit.SUPPRESSION_LIST, "list", "suppression", report=report) as extra:
        found = load_suppressions(session.config, report=report, errors=errors)
        extra.update(count=len(found), errors=len(errors) if errors else None)
        return found


def remove_suppression(session: Session, name: str) -> Path:
    """Delete one suppression (`delete` on suppression); a file that no longer parses can
    still be removed. The audit line keeps what it suppressed."""
    config = session.config
    path = _existing(config, name)
    s = None
    if path is not None:
        try:
            s = parse(path.read_text(encoding="utf-8"), path, max_days=10**6)
        except (OSError, UnicodeDecodeError, ConfigError):
            s = None
    with session.checked(audit.SUPPRESSION_DELETE, "delete", "suppression",
                         **_audit_fields(s, name=name)):  # fmt: skip
        check_name(name, "suppression")  # a refused name is audited too
        if path is None:
            names = [p.stem for p in _files(Path(config.suppressions_dir))]
            raise AccessmonError(f"no suppression {name}{did_you_mean(name, names)}")
        path.unlink()
    return path


# -- applying them to a run -------------------------------------------------------------------


def apply_suppressions(run: ReportRun, suppressions: list[Suppression], now: dt.datetime) -> None:
    """Mark each finding of `run` that a suppression of its report covers: an active one hides
    it (`finding.suppression`), an expired one leaves it open and says so
    (`finding.suppression_expired`). Then `run.suppressions` lists each suppression of the
    report with how many findings it matched and its status: expired, stale (matched nothing
    in queries that ran) or active. Pure and idempotent: the marks are set afresh on every call."""
    now = as_utc(now)
    # where several cover a finding, the most specific one names it: of its query, then the
    # one with the most match columns, then by name
    mine = sorted(
        (s for s in suppressions if s.report == run.name),
        key=lambda s: (s.query is None, -len(s.match), s.name),
    )
    matched = dict.fromkeys((s.name for s in mine), 0)
    for outcome in run.queries:
        for finding in outcome.items:
            finding.suppression = finding.suppression_expired = None
            for s in mine:
                if not s.covers(run.name, outcome.name, finding.key):
                    continue
                matched[s.name] += 1
                if s.is_expired(now):
                    finding.suppression_expired = finding.suppression_expired or s.name
                elif finding.suppression is None:
                    finding.suppression = s.name
            if finding.suppression is not None:
                finding.suppression_expired = None  # hidden by an active one all the same
    ran = {o.name for o in run.queries if not o.error}
    run.suppressions = [
        s.summary(now, matched[s.name], ran=bool(ran if s.query is None else ran & {s.query}))
        for s in sorted(mine, key=lambda s: s.name)
    ]


def applied(run: ReportRun) -> list[str]:
    """The active suppressions that covered at least one finding of `run` (each would hide it
    alone): provenance's `suppressions_applied`."""
    return [s["name"] for s in run.suppressions if s["status"] == "active" and s["matched"]]
