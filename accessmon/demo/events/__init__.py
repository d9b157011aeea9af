"""One builder per Teleport event type, grouped by family; BUILDERS lists them parents first.

Each module builds one family. The order of BUILDERS is part of the output: every builder
draws from the chunk's one random stream, in this order, and children (session.command,
db.session.query, ...) look for their parents among the types built before them.
"""

from __future__ import annotations

from accessmon.demo.context import Builder
from accessmon.demo.events.access_lists import access_list_builder
from accessmon.demo.events.access_requests import access_request_create, access_request_review
from accessmon.demo.events.admin import admin_builder
from accessmon.demo.events.certificates import cert_create
from accessmon.demo.events.databases import db_query, db_query_failed, db_session_start
from accessmon.demo.events.desktops import desktop_end, desktop_start
from accessmon.demo.events.joins import bot_join, instance_join
from accessmon.demo.events.kube import kube_request
from accessmon.demo.events.logins import (
    device_authenticate,
    device_enroll,
    saml_idp_auth,
    self_event,
    user_login,
)
from accessmon.demo.events.sessions import (
    auth_failure,
    exec_event,
    session_command,
    session_join,
    session_rejected,
    session_start,
)

#: Event type -> its builder, parents before their children.
BUILDERS: dict[str, Builder] = {
    "session.start": session_start,
    "session.command": session_command,
    "session.join": session_join,
    "exec": exec_event,
    "kube.request": kube_request,
    "db.session.start": db_session_start,
    "db.session.query": db_query,
    "db.session.query.failed": db_query_failed,
    "cert.create": cert_create,
    "user.login": user_login,
    "auth": auth_failure,
    "session.rejected": session_rejected,
    "access_request.create": access_request_create,
    "access_request.review": access_request_review,
    "bot.join": bot_join,
    "instance.join": instance_join,
    "windows.desktop.session.start": desktop_start,
    "windows.desktop.session.end": desktop_end,
    "device.authenticate": device_authenticate,
    "device.enroll": device_enroll,
    "saml.idp.auth": saml_idp_auth,
    "access_list.create": access_list_builder("access_list.create", "TAL001"),
    "access_list.update": access_list_builder("access_list.update", "TAL002"),
    "access_list.delete": access_list_builder("access_list.delete", "TAL003"),
    "access_list.review": access_list_builder("access_list.review", "TAL004"),
    "access_list.member.create": access_list_builder("access_list.member.create", "TAL005"),
    "access_list.member.update": access_list_builder("access_list.member.update", "TAL006"),
    "access_list.member.delete": access_list_builder("access_list.member.delete", "TAL007"),
    "join_token.create": admin_builder("join_token.create", "TJT00I"),
    "lock.created": admin_builder("lock.created", "TLK00I"),
    "lock.deleted": admin_builder("lock.deleted", "TLK01I"),
    "reset_password_token.create": admin_builder("reset_password_token.create", "T6000I"),
    "user.create": admin_builder("user.create", "T1002I"),
    "recovery_code.used": lambda cx, n: self_event(cx, n, "recovery_code.used"),
    "user.password_change": lambda cx, n: self_event(cx, n, "user.password_change"),
}
