"""How people sign in and vouch for themselves: logins (some failing, some by strangers),
trusted devices, SAML sign-ins to other apps, password changes and recovery codes."""

from __future__ import annotations

import numpy as np

from accessmon.demo.context import ChunkContext, EventBatch
from accessmon.demo.planted import LOGIN_FAILURE_RATE
from accessmon.demo.world import STRANGERS

_USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0",
    "tsh/16.4.2 (darwin-arm64)",
    "tsh/16.4.2 (linux-amd64)",
)
_SAML_APPS = (
    ("https://signin.aws.amazon.com/saml", "aws"),
    ("https://app.datadoghq.com/account/saml/metadata.xml", "datadog"),
    ("https://grafana.example.com/saml/metadata", "grafana"),
)


def user_login(cx: ChunkContext, n: int | None) -> EventBatch:
    """Web and tsh logins, local or SSO; failures include names that are no user."""
    f = cx.start("user.login", n, bot_share=0.0)
    n, o, w = f.n, f.obj, cx.w
    fail = cx.chance(LOGIN_FAILURE_RATE, n)
    stranger = fail & cx.chance(0.3, n)
    f.actor = np.where(stranger, w.stranger0 + cx.rng.integers(0, len(STRANGERS), n), f.actor)
    o.pick("user", w.names, f.actor)
    a = np.minimum(f.actor, w.n_actors - 1)
    method = np.array([w.method[x] if x < w.n_humans else "local" for x in range(w.n_actors)])[a]
    method = np.where(stranger, "local", method)
    sso = method != "local"
    o.pick("method", ["local", "saml"], sso.astype(np.int32))
    code = np.where(sso, 2, 0) + fail
    o.pick("code", ["T1000I", "T1000W", "T1001I", "T1001W"], code)
    o.pick("success", [True, False], fail.astype(np.int32), keep=True)
    errors = [
        "invalid username, password or second factor",
        "access denied: user is locked",
        'user(name="admin") not found',
    ]
    err = np.where(stranger, 2, cx.rng.choice([0, 0, 0, 1], n))
    o.pick("error", errors, err, ~fail)
    mfa = ~fail & ~sso
    dev = [
        {"mfa_device_name": "yubikey", "mfa_device_type": "WebAuthn", "mfa_device_uuid": m}
        if m
        else {}
        for m in w.mfa
    ]
    o.pick("mfa_device", [*dev, *([{}] * len(STRANGERS))], f.actor, ~mfa)
    ip = np.where(stranger, w.stranger_ip0 + cx.rng.integers(0, 8, n), cx.ip_index(a))
    cx.remote(f, ip)
    o.pick("user_agent", _USER_AGENTS, cx.rng.integers(0, len(_USER_AGENTS), n))
    return f


def _device(cx: ChunkContext, n: int | None, etype: str, code: str) -> EventBatch:
    """Device trust events: the device, and trusted_device once it is enrolled."""
    f = cx.start(etype, n)
    n, o, w = f.n, f.obj, cx.w
    fail = cx.chance(0.03, n)
    cx.status(f, ~fail, code, code, ["device not enrolled", "device authentication failed"])
    o.pick("device", w.device, f.actor)
    o.pick("trusted_device", w.device, f.actor, fail | (etype == "device.enroll"))
    return f


def device_authenticate(cx: ChunkContext, n: int | None) -> EventBatch:
    """A trusted device proves itself."""
    return _device(cx, n, "device.authenticate", "TV006I")


def device_enroll(cx: ChunkContext, n: int | None) -> EventBatch:
    """A device is enrolled (it is not yet trusted)."""
    return _device(cx, n, "device.enroll", "TV005I")


def saml_idp_auth(cx: ChunkContext, n: int | None) -> EventBatch:
    """Teleport as SAML identity provider signs people in to other apps."""
    f = cx.start("saml.idp.auth", n)
    n, o = f.n, f.obj
    fail = cx.chance(0.04, n)
    cx.status(f, ~fail, "TSI000I", "TSI000I", ["user does not have access to this app"])
    app = cx.rng.integers(0, len(_SAML_APPS), n)
    o.pick("service_provider_entity_id", [x[0] for x in _SAML_APPS], app)
    o.pick("service_provider_shortcut", [x[1] for x in _SAML_APPS], app)
    cx.session_keys(f)
    o.frags.pop("private_key_policy")
    return f


def self_event(cx: ChunkContext, n: int | None, etype: str) -> EventBatch:
    """What people do to their own account: recovery_code.used, user.password_change."""
    f = cx.start(etype, n)
    if etype == "recovery_code.used":
        fail = cx.chance(0.2, f.n)
        cx.status(f, ~fail, "T1009I", "T1009W", ["invalid recovery code"])
    else:
        cx.code(f, "T1005I")
    return f
