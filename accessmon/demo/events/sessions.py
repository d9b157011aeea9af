"""SSH and Kubernetes sessions and what happens in them: starts, commands, joins and exec,
and the SSH connections that fail (auth) or are refused (session.rejected)."""

from __future__ import annotations

import numpy as np

from accessmon.demo.context import ChunkContext, EventBatch
from accessmon.demo.fixed_width import HOUR_MS
from accessmon.demo.planted import (
    ETC_PASSWD_RATE,
    EXEC_FAILURE_RATE,
    KUBE_EXEC_SHARE,
    KUBE_SESSION_SHARE,
    ROOT_LOGIN_RATE,
)
from accessmon.demo.world import KUBE_CLUSTERS, KUBE_GROUPS, LOGINS, World

_SSH_COMMANDS = (
    "uptime", "df -h", "ls -la /var/log", "systemctl status nginx", "sudo systemctl restart app",
    "journalctl -u app --since '1 hour ago'", "docker ps", "ps aux --sort=-%mem | head",
    "free -m", "tail -n 200 /var/log/syslog", "sudo apt-get update", "cat /etc/os-release",
    "ansible-playbook site.yml --check", "git -C /srv/app pull", "id",
)  # fmt: skip
_PASSWD_COMMANDS = (
    "cat /etc/passwd", "grep deploy /etc/passwd", "sudo vi /etc/passwd",
    "awk -F: '{print $1}' /etc/passwd", "tail -n 5 /etc/passwd",
)  # fmt: skip
_KUBE_COMMANDS = ("/bin/sh", "sh -c env", "ls /app", "cat /etc/resolv.conf", "bash",
                  "python manage.py migrate", "printenv")  # fmt: skip
_PROGRAMS = (
    ("ls", "/usr/bin/ls", ["-la"]), ("cat", "/usr/bin/cat", ["/etc/hosts"]),
    ("bash", "/usr/bin/bash", []), ("sudo", "/usr/bin/sudo", ["systemctl", "restart", "nginx"]),
    ("vim", "/usr/bin/vim", ["/etc/nginx/nginx.conf"]),
    ("curl", "/usr/bin/curl", ["-s", "localhost:8080/health"]),
    ("grep", "/usr/bin/grep", ["-r", "ERROR", "/var/log/app"]), ("ps", "/usr/bin/ps", ["aux"]),
    ("top", "/usr/bin/top", []), ("psql", "/usr/bin/psql", ["-h", "localhost", "orders"]),
)  # fmt: skip


def session_start(cx: ChunkContext, n: int | None) -> EventBatch:
    """Interactive sessions: ssh on a node (some as root) or kube exec into a pod."""
    f = cx.start("session.start", n, bot_share=0.08)
    n, o, w = f.n, f.obj, cx.w
    kube = cx.chance(KUBE_SESSION_SHARE, n)
    root = ~kube & cx.chance(ROOT_LOGIN_RATE, n)
    sec = cx.security(f.actor)
    cx.user_meta(f, sec)
    cx.code(f, "T2000I")
    node, cluster = _on_host(cx, f, kube)
    logins = [*LOGINS, "root", *w.names]
    own = len(LOGINS) + 1 + f.actor
    login = np.where(cx.chance(0.4, n), own, cx.rng.integers(0, len(LOGINS), n))
    login = np.where(root, len(LOGINS), login)
    login = np.where(kube, own, login)
    o.pick("login", logins, login)
    o.pick("proto", ["ssh", "kube"], kube.astype(np.int32))
    o.const("namespace", "default")
    o.const("session_recording", "node")
    o.pick("size", ["80:25", "120:40", "200:50", "237:63"], cx.rng.integers(0, 4, n), kube)
    cmd = [["uptime"], ["bash", "-lc", "tail -f /var/log/app.log"], ["htop"]]
    o.pick("initial_command", cmd, cx.rng.integers(0, 3, n), kube | ~cx.chance(0.1, n))
    cx.session_keys(f)
    group = cx.kube_groups(n)
    pod = cx.rng.integers(0, len(w.pods), n)
    _kube_keys(f, w, cluster, group, pod, kube)
    o.pick(
        "kubernetes_node_name", [f"ip-10-1-{i}-17.ec2.internal" for i in range(7)], pod % 7, ~kube
    )
    f.extra.update(kube=kube, node=node, login=login, logins=logins, sec=sec)
    return f


def session_command(cx: ChunkContext, n: int | None) -> EventBatch:
    """Programs run inside ssh sessions (enhanced session recording)."""
    p = cx.parent("session.start", session_start)
    ssh = np.flatnonzero(~p.extra["kube"])
    if len(ssh) == 0:
        p, ssh = session_start(cx, 1), np.array([0])
        p.extra["kube"][:] = False
    m = cx.n("session.command") if n is None else n
    pick = ssh[cx.rng.integers(0, len(ssh), m)]
    f = cx.child("session.command", p, pick, 1_000, 2 * HOUR_MS)
    o, m = f.obj, f.n
    cx.code(f, "T4000I")
    o.int("ei", cx.rng.integers(1, 2000, m), keep=True)
    o.fixed("sid", p.sid[pick])
    f.sid = p.sid[pick]
    cx.node(f, p.extra["node"][pick])
    o.frags.pop("addr.local")
    o.pick("login", p.extra["logins"], p.extra["login"][pick])
    o.const("namespace", "default")
    prog = cx.rng.integers(0, len(_PROGRAMS), m)
    o.pick("program", [x[0] for x in _PROGRAMS], prog)
    o.pick("path", [x[1] for x in _PROGRAMS], prog)
    o.pick("argv", [x[2] for x in _PROGRAMS], prog)
    o.int("pid", cx.rng.integers(1000, 65000, m))
    o.int("ppid", cx.rng.integers(100, 1000, m))
    o.int("cgroup_id", cx.rng.integers(4_000, 9_000, m))
    o.int("return_code", np.where(cx.chance(0.06, m), 1, 0))
    cx.user_meta(f, {k: v[pick] for k, v in p.extra["sec"].items()})
    o.const("private_key_policy", "none")
    return f


def session_join(cx: ChunkContext, n: int | None) -> EventBatch:
    """Someone joins a running session (ssh or kube)."""
    p = cx.parent("session.start", session_start)
    m = cx.n("session.join") if n is None else n
    pick = cx.rng.integers(0, p.n, m)
    joiner = cx.actors(m, 0.0)
    f = cx.child("session.join", p, pick, 5_000, HOUR_MS, actor=joiner)
    o = f.obj
    cx.code(f, "T2001I")
    o.int("ei", cx.rng.integers(1, 50, m), keep=True)
    kube = p.extra["kube"][pick]
    o.pick("proto", ["ssh", "kube"], kube.astype(np.int32))
    o.fixed("sid", p.sid[pick])
    f.sid = p.sid[pick]
    cx.node(f, p.extra["node"][pick], kube)
    o.pick("login", [*cx.w.names], joiner)
    o.pick("kubernetes_cluster", KUBE_CLUSTERS, cx.rng.integers(0, 3, m), ~kube)
    o.const("namespace", "default")
    cx.remote(f)
    cx.user_meta(f, cx.security(joiner))
    return f


def exec_event(cx: ChunkContext, n: int | None) -> EventBatch:
    """One-off commands, ssh or kube, some touching /etc/passwd, some failing."""
    f = cx.start("exec", n, bot_share=0.15)
    n, o, w = f.n, f.obj, cx.w
    kube = cx.chance(KUBE_EXEC_SHARE, n)
    passwd = ~kube & cx.chance(ETC_PASSWD_RATE, n)
    fail = cx.chance(EXEC_FAILURE_RATE, n)
    f.obj.pick("code", ["T3002I", "T3002E"], fail.astype(np.int32))
    cmds = [*_SSH_COMMANDS, *_PASSWD_COMMANDS, *_KUBE_COMMANDS]
    c = cx.rng.integers(0, len(_SSH_COMMANDS), n)
    c = np.where(passwd, len(_SSH_COMMANDS) + cx.rng.integers(0, len(_PASSWD_COMMANDS), n), c)
    k0 = len(_SSH_COMMANDS) + len(_PASSWD_COMMANDS)
    c = np.where(kube, k0 + cx.rng.integers(0, len(_KUBE_COMMANDS), n), c)
    o.pick("command", cmds, c)
    code = np.where(fail, cx.rng.choice([1, 2, 127, 130], n), 0)
    which = np.searchsorted([0, 1, 2, 127, 130], code)
    o.pick("exitCode", ["0", "1", "2", "127", "130"], which)
    o.pick("exitError", ["", *(f"exit status {c}" for c in (1, 2, 127, 130))], which)
    o.pick("proto", ["ssh", "kube"], kube.astype(np.int32))
    _node, cluster = _on_host(cx, f, kube)
    logins = [*LOGINS, "root", *w.names]
    login = np.where(cx.chance(0.5, n), len(LOGINS) + 1 + f.actor, cx.rng.integers(0, 5, n))
    o.pick("login", logins, login)
    o.const("namespace", "default")
    cx.session_keys(f)
    cx.user_meta(f, cx.security(f.actor))
    pod = cx.rng.integers(0, len(w.pods), n)
    group = cx.rng.integers(0, len(KUBE_GROUPS), n)
    _kube_keys(f, w, cluster, group, pod, kube)
    return f


def auth_failure(cx: ChunkContext, n: int | None) -> EventBatch:
    """SSH connections refused at authentication (the auth event is only written on failure)."""
    f = cx.start("auth", n, bot_share=0.05)
    n, o, w = f.n, f.obj, cx.w
    cx.status(
        f,
        np.zeros(n, bool),
        "T3007I",
        "T3007W",
        [
            'ssh: principal "root" not in the set of valid principals for given certificate',
            "ssh: cert has expired",
            "access denied to alice connecting to web-01",
            "ssh: handshake failed: EOF",
        ],
    )
    o.pick("login", [*LOGINS, "root"], cx.rng.integers(0, 5, n))
    o.const("proto", "ssh")
    cx.remote(f)
    node = cx.rng.choice(len(w.node_id), n, p=w.node_p)
    o.pick("addr.local", w.node_addr, node)
    return f


def session_rejected(cx: ChunkContext, n: int | None) -> EventBatch:
    """Sessions refused by a limit, a lock or a missing MFA device."""
    f = cx.start("session.rejected", n, bot_share=0.05)
    n, o, w = f.n, f.obj, cx.w
    cx.code(f, "T1006W")
    reasons = [
        "max number of concurrent sessions reached",
        'lock targeting User:"mallory" is in force',
        "session requires MFA but the user has no MFA device",
    ]
    r = cx.rng.integers(0, 3, n)
    o.pick("reason", reasons, r)
    o.int("max", np.where(r == 0, 5, 0))
    cx.node(f, cx.rng.choice(len(w.node_id), n, p=w.node_p))
    cx.remote(f)
    o.pick("login", [*LOGINS, "root"], cx.rng.integers(0, 5, n))
    o.const("namespace", "default")
    o.const("proto", "ssh")
    return f


def _on_host(cx: ChunkContext, f: EventBatch, kube: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a session or command ran: ssh on a node, kube on the cluster's agent."""
    n, o, w = f.n, f.obj, cx.w
    node = cx.rng.choice(len(w.node_id), n, p=w.node_p)
    cluster = cx.rng.integers(0, len(KUBE_CLUSTERS), n)
    host = np.where(kube, len(w.node_id) + cluster, node)
    o.pick("server_id", [*w.node_id, *w.kube_id], host)
    o.pick("server_hostname", [*w.node_host, *w.kube_host], host)
    o.pick("addr.local", [*w.node_addr, *w.kube_addr], host)
    o.pick("server_labels", w.node_labels, node, kube)
    cx.remote(f)
    return node, cluster


def _kube_keys(
    f: EventBatch,
    w: World,
    cluster: np.ndarray,
    group: np.ndarray,
    pod: np.ndarray,
    kube: np.ndarray,
) -> None:
    """The cluster, identity and pod of kube rows (ssh rows have none of these keys)."""
    o = f.obj
    o.pick("kubernetes_cluster", KUBE_CLUSTERS, cluster, ~kube)
    o.pick("kubernetes_groups", KUBE_GROUPS, group, ~kube)
    o.pick("kubernetes_users", [[x] for x in w.names], f.actor, ~kube)
    o.pick("kubernetes_pod_name", [p[0] for p in w.pods], pod, ~kube)
    o.pick("kubernetes_pod_namespace", [p[1] for p in w.pods], pod, ~kube)
    o.pick("kubernetes_container_name", [p[2] for p in w.pods], pod, ~kube)
    o.pick("kubernetes_container_image", [p[3] for p in w.pods], pod, ~kube)
