"""Amazon Athena through pyathena, on Teleport's own audit table.

Only the views a query names are rendered, each filtered on event_type and on
the window's event_date, so Athena prunes partitions and bills few bytes.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from accessmon.config import Config
from accessmon.engines.base import StoreInventory, sql_inventory
from accessmon.errors import ConfigError, EngineError
from accessmon.result import QueryResult, QueryStats
from accessmon.sql.render import quote_ident
from accessmon.sql.transpile import trino_sql
from accessmon.sql.validate import CheckedQuery
from accessmon.window import Window

_THROTTLING = ("ThrottlingException", "TooManyRequestsException")


def role_session_name(user: str) -> str:
    """STS session names allow [\\w+=,.@-]{2,64}; CloudTrail then shows who ran the query."""
    return ("accessmon-" + re.sub(r"[^\w+=,.@-]", "-", user))[:64]


class AthenaEngine:
    name = "athena"

    def __init__(self, config: Config, user: str = "unknown") -> None:
        self.config = config
        self.settings = config.athena
        self.user = user
        self._connection: Any = None
        self._session: Any = None

    # -- SQL ------------------------------------------------------------------------------

    @property
    def table(self) -> str:
        missing = [k for k in ("database", "table") if not getattr(self.settings, k)]
        if missing:
            raise ConfigError(
                f"athena.{missing[0]} is not set: give it in accessmon.yaml or use "
                "--teleport-config /etc/teleport.yaml"
            )
        return f"{quote_ident(self.settings.database)}.{quote_ident(self.settings.table)}"

    def render(self, query: CheckedQuery, window: Window) -> str:
        return trino_sql(query, self.table, window)

    # -- AWS ------------------------------------------------------------------------------

    def boto3_session(self):
        """A boto3 session; with role_arn, assumed-role credentials that refresh themselves."""
        if self._session is None:
            import boto3
            import botocore.session
            from botocore.credentials import RefreshableCredentials

            s = self.settings
            base = boto3.Session(profile_name=s.profile, region_name=s.region)
            if not s.role_arn:
                self._session = base
                return base
            sts = base.client("sts", endpoint_url=s.endpoint_url)

            def assume() -> dict[str, str]:
                args: dict[str, Any] = {
                    "RoleArn": s.role_arn,
                    "RoleSessionName": role_session_name(self.user),
                    "DurationSeconds": 3600,
                }
                if s.external_id:
                    args["ExternalId"] = s.external_id
                if s.role_tags:
                    args["Tags"] = [{"Key": k, "Value": v} for k, v in s.role_tags.items()]
                creds = _aws_call(sts.assume_role, **args)["Credentials"]
                return {
                    "access_key": creds["AccessKeyId"],
                    "secret_key": creds["SecretAccessKey"],
                    "token": creds["SessionToken"],
                    "expiry_time": creds["Expiration"].isoformat(),
                }

            credentials = RefreshableCredentials.create_from_metadata(
                metadata=assume(), refresh_using=assume, method="sts-assume-role"
            )
            core = botocore.session.get_session()
            core._credentials = credentials  # botocore's documented way to inject refreshable creds
            if s.region:
                core.set_config_variable("region", s.region)
            self._session = boto3.Session(botocore_session=core)
        return self._session

    def client(self, service: str):
        return self.boto3_session().client(service, endpoint_url=self.settings.endpoint_url)

    def connection(self):
        if self._connection is None:
            from pyathena import connect
            from pyathena.pandas.cursor import PandasCursor
            from pyathena.util import RetryConfig

            s = self.settings
            if not s.query_results and not s.workgroup:
                raise ConfigError(
                    "athena.query_results (an s3:// location) or athena.workgroup must be set"
                )
            self._connection = connect(
                s3_staging_dir=s.query_results,
                work_group=s.workgroup,
                region_name=s.region or self.boto3_session().region_name,
                schema_name=s.database,
                endpoint_url=s.endpoint_url,
                session=self.boto3_session(),
                cursor_class=PandasCursor,
                poll_interval=s.poll_interval,
                kill_on_interrupt=True,
                retry_config=RetryConfig(
                    exceptions=_THROTTLING, attempt=s.max_retries + 1, multiplier=1, max_delay=60
                ),
            )
        return self._connection

    # -- execution ------------------------------------------------------------------------

    def execute(self, sql: str, query: CheckedQuery) -> QueryResult:
        from pyathena.error import Error as AthenaError

        s = self.settings
        started = time.monotonic()

        def on_poll(execution: Any) -> None:
            if time.monotonic() - started > s.timeout_seconds:
                raise _Timeout(execution.query_id)

        cursor = self.connection().cursor(on_poll=on_poll)
        try:
            cursor.execute(sql)
            frame = cursor.as_pandas()
        except _Timeout as e:
            cursor.cancel()
            raise EngineError(
                f"Athena query {e.query_id} was stopped after {s.timeout_seconds:g} s "
                "(athena.timeout_seconds)"
            ) from e
        except AthenaError as e:
            raise EngineError(f"Athena query {cursor.query_id or ''} failed: {e}".strip()) from e
        except Exception as e:
            raise _translate_aws(e) from e
        stats = QueryStats(
            "athena",
            elapsed_ms=int((time.monotonic() - started) * 1000),
            data_scanned_bytes=int(cursor.data_scanned_in_bytes or 0),
            query_execution_id=cursor.query_id,
            engine_execution_ms=cursor.engine_execution_time_in_millis,
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return QueryResult(table, sql, stats, query.views)

    def inventory(self, start: dt.date, end: dt.date) -> StoreInventory:
        """One grouped query over Teleport's table (every event type), through `execute`."""
        return sql_inventory(self, self.table, start, end)

    def publish_results(self, path: Path, name: str) -> str | None:
        """Store a report's results JSON under `report_results` in S3, as Teleport does."""
        target = self.settings.report_results
        if not target:
            return None
        bucket, _, prefix = target.removeprefix("s3://").partition("/")
        key = "/".join(p for p in (prefix.strip("/"), name, path.name) if p)
        try:
            self.client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes(),
                                         ContentType="application/json")  # fmt: skip
        except Exception as e:
            raise _translate_aws(e) from e
        return f"s3://{bucket}/{key}"

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- doctor ---------------------------------------------------------------------------

    def diagnose(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) for `accessmon doctor`: config, credentials, table, workgroup."""
        s = self.settings
        out: list[tuple[str, bool, str]] = []
        settings = {k: v for k, v in s.model_dump().items() if v is not None}
        out.append(("configuration", bool(s.database and s.table), _describe(settings)))
        try:
            arn = self.client("sts").get_caller_identity()["Arn"]
            out.append(("credentials", True, arn))
        except Exception as e:
            out.append(("credentials", False, str(_translate_aws(e))))
            return out
        checks = [
            (
                "table",
                lambda: self.client("glue").get_table(DatabaseName=s.database, Name=s.table),
                f"{s.database}.{s.table} is visible in Glue",
            ),
        ]
        if s.workgroup:
            checks.append(
                (
                    "workgroup",
                    lambda: self.client("athena").get_work_group(WorkGroup=s.workgroup),
                    f"{s.workgroup} exists",
                )
            )
        for name, call, detail in checks:
            try:
                call()
                out.append((name, True, detail))
            except Exception as e:
                out.append((name, False, str(_translate_aws(e))))
        return out


class _Timeout(Exception):
    def __init__(self, query_id: str) -> None:
        self.query_id = query_id


def _describe(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "nothing configured"


def _aws_call(fn, **kwargs):
    try:
        return fn(**kwargs)
    except Exception as e:
        raise _translate_aws(e) from e


def _translate_aws(e: Exception) -> Exception:
    """AWS errors as one actionable line."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(e, NoCredentialsError):
        return EngineError("no AWS credentials: set a profile (athena.profile) or AWS_* variables")
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        return EngineError(
            f"AWS {e.operation_name} failed: {err.get('Code')}: {err.get('Message')}"
        )
    if isinstance(e, BotoCoreError):
        return EngineError(f"AWS error: {e}")
    return e
