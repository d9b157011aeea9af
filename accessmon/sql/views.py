"""The audit views of Teleport's Access Monitoring, as one table of data.

Each view selects one event type and turns fields of the event JSON into columns.
The SQL of every view, for DuckDB and for Athena, is rendered from this table
(see `accessmon.sql.render`); no view is written by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from accessmon.names import did_you_mean

#: view | event type | codes | what one row means, then its columns after event_date and event_time, in
#: Teleport's order. Unmarked columns are varchar; TD stands for the five trusted-device columns.
_TABLE = """
access_list_create | access_list.create | TAL001I / TAL001E | An access list was created.
    cluster_name, code, ei integer, error, event, expires, message, name, success boolean, time, ttl, uid, updated_by
access_list_delete | access_list.delete | TAL003I / TAL003E | An access list was deleted.
    cluster_name, code, ei integer, error, event, expires, message, name, success boolean, time, ttl, uid, updated_by
access_list_member_create | access_list.member.create | TAL005I / TAL005E | Members were added to an access list.
    access_list_name, cluster_name, code, ei integer, error, event, expires, members array(row(joined_on varchar, member_name varchar, reason varchar, removed_on varchar)), message, name, success boolean, time, ttl, uid, updated_by
access_list_member_delete | access_list.member.delete | TAL007I / TAL007E | Members were removed from an access list.
    access_list_name, cluster_name, code, ei integer, error, event, expires, members array(row(joined_on varchar, member_name varchar, reason varchar, removed_on varchar)), message, name, success boolean, time, ttl, uid, updated_by
access_list_member_update | access_list.member.update | TAL006I / TAL006E | An access list member was updated.
    access_list_name, cluster_name, code, ei integer, error, event, expires, members array(row(joined_on varchar, member_name varchar, reason varchar, removed_on varchar)), message, name, success boolean, time, ttl, uid, updated_by
access_list_review | access_list.review | TAL004I / TAL004E | An access list was reviewed: members kept or removed.
    cluster_name, code, ei integer, error, event, expires, membership_requirements_changed_roles array(varchar), membership_requirements_changed_traits_key, membership_requirements_changed_traits_value, message, name, removed_members array(varchar), review_day_of_month_changed, review_frequency_changed, review_id, success boolean, time, ttl, uid, updated_by
access_list_update | access_list.update | TAL002I / TAL002E | An access list was updated.
    cluster_name, code, ei integer, error, event, expires, message, name, success boolean, time, ttl, uid, updated_by
access_request_create | access_request.create | T5000I | A user asked for more access: roles or resources, for a while.
    access_requests array(varchar), assume_start_time, aws_role_arn, azure_identity, cluster_name, code, delegator, ei integer, event, expires, gcp_service_account, id, impersonator, login, max_duration, name, promoted_access_list_name, proposed_state, reason, required_private_key_policy, resource_ids array(row(cluster varchar, kind varchar, name varchar, sub_resource varchar)), reviewer, roles array(varchar), state, time, ttl, uid, updated_by, user, TD
access_request_review | access_request.review | T5002I | An access request was approved or denied.
    access_requests array(varchar), assume_start_time, aws_role_arn, azure_identity, cluster_name, code, delegator, ei integer, event, expires, gcp_service_account, id, impersonator, login, max_duration, name, promoted_access_list_name, proposed_state, reason, required_private_key_policy, resource_ids array(row(cluster varchar, kind varchar, name varchar, sub_resource varchar)), reviewer, roles array(varchar), state, time, ttl, uid, updated_by, user, TD
auth | auth | T3007W (failed auth; successes are not normally emitted) | An authentication attempt failed.
    access_requests array(varchar), addr_local, addr_remote, aws_role_arn, azure_identity, cluster_name, code, ei integer, error, event, gcp_service_account, impersonator, login, message, proto, required_private_key_policy, success boolean, time, uid, user, TD
bot_join | bot.join | TJ001I / TJ001E | A Machine ID bot joined the cluster.
    bot_name, cluster_name, code, ei integer, error, event, message, method, success boolean, time, token_name, uid
cert_create | cert.create | TC000I | Teleport issued a certificate to a user or a bot.
    cert_type, cluster_name, code, ei integer, event, identity_access_requests array(varchar), identity_allowed_resource_ids array(row(cluster varchar, kind varchar, name varchar, sub_resource varchar)), identity_aws_role_arns array(varchar), identity_azure_identities array(varchar), identity_client_ip, identity_database_names array(varchar), identity_database_users array(varchar), identity_disallow_reissue boolean, identity_expires, identity_gcp_service_accounts array(varchar), identity_impersonator, identity_kubernetes_cluster, identity_kubernetes_groups array(varchar), identity_kubernetes_users array(varchar), identity_logins array(varchar), identity_mfa_device_uuid, identity_prev_identity_expires, identity_private_key_policy, identity_roles array(varchar), identity_route_to_app_aws_role_arn, identity_route_to_app_azure_identity, identity_route_to_app_cluster_name, identity_route_to_app_gcp_service_account, identity_route_to_app_name, identity_route_to_app_public_addr, identity_route_to_app_session_id, identity_route_to_cluster, identity_route_to_database_database, identity_route_to_database_protocol, identity_route_to_database_service_name, identity_route_to_database_username, identity_teleport_cluster, identity_usage array(varchar), identity_user, time, uid
db_session_query | db.session.query | TDB02I | A query ran in a database session.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, db_aws_redshift_cluster_id, db_aws_region, db_gcp_instance_id, db_gcp_project_id, db_labels_key, db_labels_value, db_name, db_origin, db_protocol, db_query, db_query_parameters array(varchar), db_roles array(varchar), db_service, db_type, db_uri, db_user, ei integer, error, event, gcp_service_account, impersonator, login, message, private_key_policy, required_private_key_policy, sid, success boolean, time, uid, user, with_mfa, TD
db_session_query_failed | db.session.query.failed | TDB02W | A query in a database session failed.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, db_aws_redshift_cluster_id, db_aws_region, db_gcp_instance_id, db_gcp_project_id, db_labels_key, db_labels_value, db_name, db_origin, db_protocol, db_query, db_query_parameters array(varchar), db_roles array(varchar), db_service, db_type, db_uri, db_user, ei integer, error, event, gcp_service_account, impersonator, login, message, private_key_policy, required_private_key_policy, sid, success boolean, time, uid, user, with_mfa, TD
db_session_start | db.session.start | TDB00I (success) / TDB00W (denied) | A database session started, or was denied.
    access_requests array(varchar), addr_local, addr_remote, aws_role_arn, azure_identity, cluster_name, code, db_aws_redshift_cluster_id, db_aws_region, db_gcp_instance_id, db_gcp_project_id, db_labels_key, db_labels_value, db_name, db_origin, db_protocol, db_roles array(varchar), db_service, db_type, db_uri, db_user, ei integer, error, event, forwarded_by, gcp_service_account, impersonator, login, message, namespace, private_key_policy, proto, required_private_key_policy, server_addr, server_hostname, server_id, server_labels_key, server_labels_value, server_sub_kind, sid, success boolean, time, uid, user, with_mfa, TD
device_authenticate | device.authenticate | TV006I | A trusted device proved its identity.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, device_asset_tag, device_credential_id, device_device_id, device_device_origin integer, device_os_type integer, ei integer, error, event, gcp_service_account, impersonator, login, message, required_private_key_policy, success boolean, time, uid, user, TD
device_enroll | device.enroll | TV005I | A device was enrolled as trusted.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, device_asset_tag, device_credential_id, device_device_id, device_device_origin integer, device_os_type integer, ei integer, error, event, gcp_service_account, impersonator, login, message, required_private_key_policy, success boolean, time, uid, user, TD
exec | exec | T3002I / T3002E | A command ran over SSH or in a Kubernetes pod, without a shell session.
    access_requests array(varchar), addr_local, addr_remote, aws_role_arn, azure_identity, cluster_name, code, command, ei integer, event, exitCode, exitError, forwarded_by, gcp_service_account, impersonator, kubernetes_cluster, kubernetes_container_image, kubernetes_container_name, kubernetes_groups array(varchar), kubernetes_labels_key, kubernetes_labels_value, kubernetes_node_name, kubernetes_pod_name, kubernetes_pod_namespace, kubernetes_users array(varchar), login, namespace, private_key_policy, proto, required_private_key_policy, server_addr, server_hostname, server_id, server_labels_key, server_labels_value, server_sub_kind, sid, time, uid, user, with_mfa, TD
instance_join | instance.join | TJ002I / TJ002E | A Teleport agent joined the cluster with a join token.
    cluster_name, code, ei integer, error, event, host_id, message, method, node_name, role, success boolean, time, token_expires, token_name, uid
join_token_create | join_token.create | TJT00I | A join token was created, letting agents or bots join.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, ei integer, event, expires, gcp_service_account, impersonator, join_method, login, name, required_private_key_policy, roles array(varchar), time, ttl, uid, updated_by, user, TD
kube_request | kube.request | T3009I | A request to a Kubernetes API server through Teleport.
    access_requests array(varchar), addr_local, addr_remote, aws_role_arn, azure_identity, cluster_name, code, ei integer, event, forwarded_by, gcp_service_account, impersonator, kubernetes_cluster, kubernetes_groups array(varchar), kubernetes_labels_key, kubernetes_labels_value, kubernetes_users array(varchar), login, namespace, private_key_policy, proto, request_path, required_private_key_policy, resource_api_group, resource_kind, resource_name, resource_namespace, response_code integer, server_addr, server_hostname, server_id, server_labels_key, server_labels_value, server_sub_kind, sid, time, uid, user, verb, with_mfa, TD
lock_created | lock.created | TLK00I | A lock was created: sessions of a user, role or device are blocked.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, ei integer, event, expires, gcp_service_account, impersonator, login, name, required_private_key_policy, target_access_request, target_device, target_login, target_mfa_device, target_node, target_role, target_server_id, target_user, target_windows_desktop, time, ttl, uid, updated_by, user, TD
lock_deleted | lock.deleted | TLK01I | A lock was removed.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, ei integer, event, expires, gcp_service_account, impersonator, login, name, required_private_key_policy, time, ttl, uid, updated_by, user, TD
recovery_code_used | recovery_code.used | T1009I / T1009W | An account recovery code was used.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, ei integer, error, event, gcp_service_account, impersonator, login, message, required_private_key_policy, success boolean, time, uid, user, TD
reset_password_token_create | reset_password_token.create | T6000I | A password reset or account setup link was created.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, ei integer, event, expires, gcp_service_account, impersonator, login, name, required_private_key_policy, time, ttl, uid, updated_by, user, TD
saml_idp_auth | saml.idp.auth | TSI000I (fixtures also use it with success=false) | A user signed in to a SAML application through Teleport's identity provider.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, ei integer, error, event, gcp_service_account, impersonator, login, message, private_key_policy, required_private_key_policy, service_provider_entity_id, service_provider_shortcut, sid, success boolean, time, uid, user, with_mfa, TD
session_command | session.command | T4000I | A program ran in a session with enhanced recording.
    access_requests array(varchar), argv array(varchar), aws_role_arn, azure_identity, cgroup_id bigint, cluster_name, code, ei integer, event, forwarded_by, gcp_service_account, impersonator, login, namespace, path, pid integer, ppid integer, private_key_policy, program, required_private_key_policy, return_code integer, server_addr, server_hostname, server_id, server_labels_key, server_labels_value, server_sub_kind, sid, time, uid, user, with_mfa, TD
session_join | session.join | T2001I | A user joined another user's live session.
    access_requests array(varchar), addr_local, addr_remote, aws_role_arn, azure_identity, cluster_name, code, ei integer, event, forwarded_by, gcp_service_account, impersonator, kubernetes_cluster, kubernetes_groups array(varchar), kubernetes_labels_key, kubernetes_labels_value, kubernetes_users array(varchar), login, namespace, private_key_policy, proto, required_private_key_policy, server_addr, server_hostname, server_id, server_labels_key, server_labels_value, server_sub_kind, sid, time, uid, user, with_mfa, TD
session_rejected | session.rejected | T1006W | A session was refused, for example over a connection limit.
    access_requests array(varchar), addr_local, addr_remote, aws_role_arn, azure_identity, cluster_name, code, ei integer, event, forwarded_by, gcp_service_account, impersonator, login, max integer, namespace, proto, reason, required_private_key_policy, server_addr, server_hostname, server_id, server_labels_key, server_labels_value, server_sub_kind, time, uid, user, TD
session_start | session.start | T2000I | An interactive session started: SSH, Kubernetes or desktop shell.
    access_requests array(varchar), addr_local, addr_remote, aws_role_arn, azure_identity, cluster_name, code, ei integer, event, forwarded_by, gcp_service_account, impersonator, initial_command array(varchar), kubernetes_cluster, kubernetes_container_image, kubernetes_container_name, kubernetes_groups array(varchar), kubernetes_labels_key, kubernetes_labels_value, kubernetes_node_name, kubernetes_pod_name, kubernetes_pod_namespace, kubernetes_users array(varchar), login, namespace, private_key_policy, proto, required_private_key_policy, server_addr, server_hostname, server_id, server_labels_key, server_labels_value, server_sub_kind, session_recording, sid, size, time, uid, user, with_mfa, TD
user_create | user.create | T1002I | A user was created.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, connector, ei integer, event, expires, gcp_service_account, impersonator, login, name, required_private_key_policy, roles array(varchar), time, ttl, uid, updated_by, user, TD
user_login | user.login | T1000I/T1000W local; T1001I/T1001W SSO; T1010I/T1011W SSO test flow; T1012I, T1013I, T1013W, T1014W headless (as in fixtures) | A user logged in, or failed to: local or single sign-on.
    access_requests array(varchar), addr_local, addr_remote, applied_login_rules array(varchar), aws_role_arn, azure_identity, cluster_name, code, ei integer, error, event, gcp_service_account, impersonator, login, message, method, mfa_device_mfa_device_name, mfa_device_mfa_device_type, mfa_device_mfa_device_uuid, proto, required_private_key_policy, success boolean, time, uid, user, user_agent, TD
user_password_change | user.password_change | T1005I | A user changed their password.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, ei integer, event, gcp_service_account, impersonator, login, required_private_key_policy, time, uid, user, TD
windows_desktop_session_end | windows.desktop.session.end | TDP01I | A Windows desktop session ended.
    access_requests array(varchar), aws_role_arn, azure_identity, cluster_name, code, desktop_addr, desktop_labels_key, desktop_labels_value, desktop_name, ei integer, event, gcp_service_account, impersonator, login, participants array(varchar), private_key_policy, recorded boolean, required_private_key_policy, session_start, session_stop, sid, time, uid, user, windows_desktop_service, windows_domain, windows_user, with_mfa, TD
windows_desktop_session_start | windows.desktop.session.start | TDP00I / TDP00W | A Windows desktop session started, or was denied.
    access_requests array(varchar), addr_local, addr_remote, allow_user_creation boolean, aws_role_arn, azure_identity, cluster_name, code, desktop_addr, desktop_labels_key, desktop_labels_value, desktop_name, ei integer, error, event, gcp_service_account, impersonator, login, message, private_key_policy, proto, required_private_key_policy, sid, success boolean, time, uid, user, windows_desktop_service, windows_domain, windows_user, with_mfa, TD
"""

#: accessmon's own events (its audit trail), so the auditors' activity is queryable too.
_OWN_TABLE = """
secreports_audit_query_run | secreports.audit.query.run | SRE001I / SRE001W | accessmon ran an audit query (its own audit trail).
    code, data_scanned_in_bytes bigint, days integer, engine, engine_execution_time_in_millis bigint, error, estimated_cost_usd double, event, from, query, query_execution_id, success boolean, time, to, total_execution_time_in_millis bigint, uid, user
secreports_report_run | secreports.report.run | SRE002I / SRE002W | accessmon ran a security report (its own audit trail).
    code, data_scanned_in_bytes bigint, days integer, engine, error, event, from, name, queries array(row(name varchar, rows bigint, data_scanned_in_bytes bigint, total_execution_time_in_millis bigint, error varchar)), state, success boolean, time, to, total_execution_time_in_millis bigint, uid, user
"""

#: Columns accessmon types wider than Teleport's views do, because real events carry values
#: that do not fit Teleport's type: on Athena the view's CAST then fails the whole query.
#: (view, column) -> (Teleport's type, why). `accessmon schema` and the README list them.
#: Kept as Teleport declares them, after checking: `pid`/`ppid` (Linux caps PIDs at 2^22),
#: `return_code` (an exit status), `ei` (an event's index in its session), `response_code`
#: (HTTP), `max` (a connection limit), the device enums and accessmon's own `days`.
WIDENED: dict[tuple[str, str], tuple[str, str]] = {
    ("session_command", "cgroup_id"): (
        "integer",
        "a cgroup v2 id is a 64-bit inode number; real events carry 4294968064",
    ),
}

_TD = (
    "trusted_device_asset_tag, trusted_device_credential_id, trusted_device_device_id, "
    "trusted_device_device_origin integer, trusted_device_os_type integer"
)

#: Columns whose JSON path is not the top-level key of the same name.
_NESTED_PREFIXES = (
    "device",
    "identity",
    "mfa_device",
    "target",
    "trusted_device",
)
_SPLIT_KEYS = {
    # column prefix -> JSON keys that prefix stands for
    "identity_route_to_app": ("identity", "route_to_app"),
    "identity_route_to_database": ("identity", "route_to_database"),
    "membership_requirements_changed_traits": ("membership_requirements_changed", "traits"),
    "membership_requirements_changed": ("membership_requirements_changed",),
    "db_labels": ("db_labels",),
    "desktop_labels": ("desktop_labels",),
    "kubernetes_labels": ("kubernetes_labels",),
    "server_labels": ("server_labels",),
}
_DOTTED_KEYS = {"addr_local": ("addr.local",), "addr_remote": ("addr.remote",)}


@dataclass(frozen=True)
class Column:
    """One view column: its name, Trino type and JSON path (None for the stored columns)."""

    name: str
    type: str
    path: tuple[str, ...] | None

    @property
    def json_path(self) -> str | None:
        """The path in Athena's bracket notation, e.g. `$["identity"]["user"]`."""
        if self.path is None:
            return None
        return "$" + "".join(f'["{k}"]' for k in self.path)


@dataclass(frozen=True)
class View:
    """An audit view: the events of one type, as typed columns."""

    name: str
    event_type: str
    codes: str
    columns: tuple[Column, ...]
    teleport: bool = True
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def instant_columns(self) -> tuple[str, ...]:
        """Expiry times (`expires`, `token_expires`...) and, beside them, the event's `time`:
        the cache also keeps them parsed, for lifetime checks like the report's. Views with no
        expiry keep no parsed `time`, which would slow every ingest for no query's gain."""
        expiries = tuple(
            c.name for c in self.columns if c.type == "varchar" and c.name.endswith("expires")
        )
        return (*expiries, "time") if expiries else ()

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _json_path(name: str) -> tuple[str, ...]:
    if name in _DOTTED_KEYS:
        return _DOTTED_KEYS[name]
    for prefix, keys in _SPLIT_KEYS.items():
        if name.startswith(prefix + "_"):
            return (*keys, name[len(prefix) + 1 :])
    for prefix in _NESTED_PREFIXES:
        if name.startswith(prefix + "_"):
            return (prefix, name[len(prefix) + 1 :])
    return (name,)


def _split_columns(spec: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in spec:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def _parse(table: str, teleport: bool = True) -> dict[str, View]:
    views: dict[str, View] = {}
    lines = [ln for ln in table.strip().splitlines() if ln.strip()]
    for head, spec in zip(lines[::2], lines[1::2], strict=True):
        name, event_type, codes, description = (p.strip() for p in head.split("|"))
        cols = [Column("event_date", "date", None), Column("event_time", "timestamp", None)]
        for item in _split_columns(re.sub(r"\bTD\b", _TD, spec)):
            col, _, typ = item.partition(" ")
            cols.append(Column(col, typ or "varchar", _json_path(col)))
        views[name] = View(name, event_type, codes, tuple(cols), teleport, description)
    return views


@cache
def all_views() -> dict[str, View]:
    """Every view by name: Teleport's 35, then accessmon's own two."""
    return {**_parse(_TABLE), **_parse(_OWN_TABLE, teleport=False)}


def teleport_views() -> dict[str, View]:
    """The 35 views of Teleport's Access Monitoring."""
    return {name: v for name, v in all_views().items() if v.teleport}


def get_view(name: str) -> View:
    """The view called `name`, or a QueryError that suggests the closest name."""
    from accessmon.errors import QueryError

    views = all_views()
    key = name.lower()
    if key in views:
        return views[key]
    raise QueryError(f"unknown view {name}{did_you_mean(key, views)}")
