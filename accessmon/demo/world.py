"""The fixed world the events happen in: people, bots, nodes, databases, clusters, desktops.

Everything here is fixed by (users, seed), so every chunk of a demo sees the same cast and the
same hosts, whatever the chunking.
"""

from __future__ import annotations

import numpy as np

from accessmon.demo.fixed_width import uuid_str
from accessmon.demo.planted import MANY_IP_COUNT, MANY_IP_USER

#: The Teleport cluster every event comes from.
CLUSTER_NAME = "teleport.example.com"

_HUMANS = (
    "admin-annie", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
    "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
    "wendy", "xavier", "yolanda", "zoe", "ops-oscar", "sre-sam", "dev-dana", "dba-dmitri", "kim",
    "lee", "maria", "noah", "omar", "priya", "quinn", "raj", "sofia", "tom", "uma", "vera",
)  # fmt: skip
BOTS = ("bot-ci", "bot-argocd", "bot-backup", "bot-terraform")
#: Names tried in failed logins that are no Teleport user.
STRANGERS = ("admin", "root", "test", "oracle", "support", "guest")
_NODE_KINDS = ("web", "api", "worker", "bastion", "batch", "cache", "ml", "jenkins")
_ENVS = ("prod", "prod", "staging", "dev")
_TEAMS = ("payments", "platform", "data", "frontend", "search")
#: Shared Unix logins on the nodes (root is planted separately).
LOGINS = ("ubuntu", "ec2-user", "deploy", "admin")
_PUBLIC_FIRST = (24, 34, 52, 66, 73, 81, 98, 109, 151, 176, 185, 203, 212)
DATABASES = (
    # service, protocol, uri, type, region, names, users (the superuser is planted separately)
    ("pg-orders", "postgres", "orders.cluster-c8x2.us-east-1.rds.amazonaws.com:5432", "rds",
     "us-east-1", ("orders", "postgres"), ("app_rw", "app_ro", "alice_ro")),
    ("pg-analytics", "postgres", "analytics.db.internal:5432", "self-hosted", "",
     ("analytics", "warehouse"), ("analyst", "etl", "reporting")),
    ("mysql-billing", "mysql", "billing-mysql.db.internal:3306", "self-hosted", "",
     ("billing", "invoices"), ("billing_ro", "app", "root")),
    ("mongo-events", "mongodb", "mongodb+srv://events.x1y2z.mongodb.net", "self-hosted", "",
     ("events", "admin"), ("reader", "writer")),
    ("pg-payments", "postgres", "payments.cluster-c8x2.eu-west-1.rds.amazonaws.com:5432", "rds",
     "eu-west-1", ("payments",), ("payments_app", "payments_ro")),
)  # fmt: skip
#: How often each of DATABASES is used.
DB_WEIGHTS = np.array([0.35, 0.2, 0.2, 0.1, 0.15])
KUBE_CLUSTERS = ("prod-eks", "staging-gke", "dev-kind")
_KUBE_NAMESPACES = ("default", "kube-system", "payments", "frontend", "monitoring", "argocd")
_KUBE_KINDS = (
    # kind, api group ("" = core), namespaced, verbs
    ("pods", "", True, ("GET", "GET", "GET", "DELETE")),
    ("deployments", "apps", True, ("GET", "GET", "PATCH", "POST")),
    ("services", "", True, ("GET",)),
    ("configmaps", "", True, ("GET", "PATCH")),
    ("secrets", "", True, ("GET",)),
    ("events", "", True, ("GET",)),
    ("ingresses", "networking.k8s.io", True, ("GET",)),
    ("nodes", "", False, ("GET",)),
    ("namespaces", "", False, ("GET", "POST")),
    ("clusterrolebindings", "rbac.authorization.k8s.io", False, ("GET", "POST")),
)
KUBE_GROUPS_MASTERS = (["system:masters"], ["ops", "system:masters"])
KUBE_GROUPS_OTHER = (["developers"], ["viewers"], ["developers", "viewers"], ["ci-deployers"])
#: Every kubernetes_groups value: the system:masters ones first (report query 9 finds them).
KUBE_GROUPS = [*KUBE_GROUPS_MASTERS, *KUBE_GROUPS_OTHER]
DESKTOPS = ("win-dc-01", "win-jump-01", "win-jump-02", "win-sql-01")
ACCESS_LISTS = ("payments-oncall", "db-admins", "kube-admins", "contractors", "auditors")


class World:
    """Everyone and everything that appears in the events, fixed by (users, seed)."""

    def __init__(self, users: int, seed: int) -> None:
        # one random stream, drawn in this order: the order is part of the output
        rng = np.random.default_rng([seed, 0])
        self._cast(users)
        self._addresses(rng)
        self._accounts(rng)
        self._hosts(rng)
        self._kubernetes(rng)

    def _cast(self, users: int) -> None:
        """People (the first is admin-annie, the busiest), bots, and strangers."""
        humans = [
            _HUMANS[i % len(_HUMANS)] + (str(i // len(_HUMANS) + 1) if i >= len(_HUMANS) else "")
            for i in range(users)
        ]
        self.n_humans = len(humans)
        self.n_bots = len(BOTS)
        self.n_actors = self.n_humans + self.n_bots
        #: actors first (humans, then bots), then strangers that only fail to log in
        self.names = [*humans, *BOTS, *STRANGERS]
        self.stranger0 = self.n_actors
        w = 1.0 / np.arange(1, users + 1) ** 0.8
        w[0] *= 1.5  # admin-annie is busy
        self.human_p = w / w.sum()

    def _addresses(self, rng: np.random.Generator) -> None:
        """Client IPs: one to three per person, MANY_IP_COUNT for MANY_IP_USER, one or two per
        bot, and a few for the strangers."""
        ips: list[str] = []
        per_actor: list[list[int]] = []
        for a in range(self.n_actors):
            if a < self.n_humans:
                k = MANY_IP_COUNT if self.names[a] == MANY_IP_USER else int(rng.integers(1, 4))
                firsts = rng.choice(_PUBLIC_FIRST, k)
                tail = rng.integers(1, 255, (k, 3))
                new = [f"{f}.{t[0]}.{t[1]}.{t[2]}" for f, t in zip(firsts, tail, strict=True)]
            else:
                k = int(rng.integers(1, 3))
                new = [f"10.20.{rng.integers(0, 32)}.{rng.integers(2, 255)}" for _ in range(k)]
            per_actor.append(list(range(len(ips), len(ips) + k)))
            ips.extend(new)
        self.stranger_ip0 = len(ips)
        ips.extend(
            f"{rng.choice(_PUBLIC_FIRST)}.{rng.integers(1, 255)}.{rng.integers(1, 255)}"
            f".{rng.integers(1, 255)}"
            for _ in range(8)
        )
        self.ips = ips
        self.ip_count = np.array([len(p) for p in per_actor])
        self.ip_table = np.zeros((self.n_actors, self.ip_count.max()), np.int64)
        for a, p in enumerate(per_actor):
            self.ip_table[a, : len(p)] = p

    def _accounts(self, rng: np.random.Generator) -> None:
        """Per person: MFA device, trusted device, roles, logins and login method."""
        self.mfa: list[str] = []
        self.device: list[dict] = []
        self.roles: list[list[str]] = []
        self.logins: list[list[str]] = []
        self.method: list[str] = []
        for a in range(self.n_actors):
            name = self.names[a]
            if a >= self.n_humans:
                self.mfa.append("")
                self.device.append({})
                self.roles.append([name])
                self.logins.append(["deploy", "ubuntu"])
                self.method.append("")
                continue
            self.mfa.append(uuid_str(rng))
            self.device.append(
                {
                    "asset_tag": "C02"
                    + "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTVWXYZ0123456789"), 7)),
                    "credential_id": uuid_str(rng),
                    "device_id": uuid_str(rng),
                    "device_origin": int(rng.choice([1, 2, 3])),
                    "os_type": int(rng.choice([1, 1, 2, 3])),
                }
            )
            extra = [r for r in ("dev", "db-admin", "kube-admin", "auditor") if rng.random() < 0.3]
            roles = ["access", "editor", "auditor"] if a == 0 else ["access", *extra]
            if a and rng.random() < 0.1:
                roles.append("editor")
            self.roles.append(roles)
            logins = [name.split("-")[-1], "ubuntu", "ec2-user"]
            if "editor" in roles or rng.random() < 0.3:
                logins.append("root")
            self.logins.append(logins)
            self.method.append("local" if a == 0 or rng.random() < 0.2 else "saml")
        self.admins = np.array([a for a in range(self.n_humans) if "editor" in self.roles[a]])

    def _hosts(self, rng: np.random.Generator) -> None:
        """SSH nodes, Kubernetes and database agents, desktops, access lists, request ids."""
        n_nodes = 24
        self.node_host = []
        for i in range(n_nodes):
            if i % 4 == 3:
                self.node_host.append(f"ip-10-0-{rng.integers(0, 64)}-{rng.integers(2, 255)}")
            else:
                self.node_host.append(f"{_NODE_KINDS[i % len(_NODE_KINDS)]}-{i // 3 + 1:02d}")
        self.node_id = [uuid_str(rng) for _ in range(n_nodes)]
        self.node_addr = [
            f"10.0.{rng.integers(0, 64)}.{rng.integers(2, 255)}:3022" for _ in range(n_nodes)
        ]
        self.node_labels = [
            {"env": _ENVS[i % len(_ENVS)], "team": _TEAMS[i % len(_TEAMS)]} for i in range(n_nodes)
        ]
        nw = 1.0 / np.arange(1, n_nodes + 1) ** 0.6
        self.node_p = nw / nw.sum()
        self.kube_host = [f"kube-agent-{c}-0" for c in KUBE_CLUSTERS]
        self.kube_id = [uuid_str(rng) for _ in KUBE_CLUSTERS]
        self.kube_addr = [
            f"10.1.{i}.{rng.integers(2, 255)}:3026" for i in range(len(KUBE_CLUSTERS))
        ]
        self.db_host = [f"db-agent-{i}" for i in range(2)]
        self.db_id = [uuid_str(rng) for _ in range(2)]
        self.desktop_addr = [f"10.0.8.{rng.integers(2, 255)}:3389" for _ in DESKTOPS]
        self.desktop_service = uuid_str(rng)
        self.access_list_id = [uuid_str(rng) for _ in ACCESS_LISTS]
        #: access request ids carried by sessions that were granted through a request
        self.request_ids = [[uuid_str(rng)] for _ in range(32)]

    def _kubernetes(self, rng: np.random.Generator) -> None:
        """API request templates (kind, group, namespace, name, verb, path) and pods."""
        self.kube_req: list[tuple[str, str, str, str, str, str]] = []
        for kind, group, namespaced, verbs in _KUBE_KINDS:
            base = f"/apis/{group}/v1" if group else "/api/v1"
            for ns in _KUBE_NAMESPACES if namespaced else ("",):
                where = f"{base}/namespaces/{ns}/{kind}" if ns else f"{base}/{kind}"
                for verb in verbs:
                    if verb == "GET":
                        self.kube_req.append((kind, group, ns, "", verb, where))
                    name = f"{kind.rstrip('s')}-{rng.integers(1000, 9999):x}"
                    if verb != "POST":
                        self.kube_req.append((kind, group, ns, name, verb, f"{where}/{name}"))
                    else:
                        self.kube_req.append((kind, group, ns, "", verb, where))
        self.pods = [
            (f"{app}-{rng.integers(16**8):08x}-{rng.integers(16**5):05x}", ns, app, img)
            for app, ns, img in (
                ("api", "payments", "ghcr.io/example/api:2.14.1"),
                ("web", "frontend", "ghcr.io/example/web:5.2.0"),
                ("worker", "payments", "ghcr.io/example/worker:2.14.1"),
                ("prometheus", "monitoring", "quay.io/prometheus/prometheus:v2.51.0"),
                ("coredns", "kube-system", "registry.k8s.io/coredns/coredns:v1.11.1"),
            )
            for _ in range(2)
        ]
