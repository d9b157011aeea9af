"""The fixed world: the cast, their addresses and accounts, the hosts."""

from __future__ import annotations

from accessmon.demo import generate
from accessmon.demo.planted import MANY_IP_COUNT, MANY_IP_USER
from accessmon.demo.world import BOTS, STRANGERS, World

from .conftest import END


def test_more_users_get_distinct_names():
    table = generate(3000, users=90, end_date=END)
    users = set(table.column("user").to_pylist())
    assert "alice2" in users or "alice3" in users


def test_the_same_seed_gives_the_same_world():
    a, b, c = World(40, 1), World(40, 1), World(40, 2)
    assert (a.names, a.ips, a.node_id, a.kube_req) == (b.names, b.ips, b.node_id, b.kube_req)
    assert a.names == c.names and a.ips != c.ips


def test_cast_order_and_addresses():
    w = World(40, 0)
    assert w.names[0] == MANY_IP_USER
    assert w.names[w.n_humans : w.n_actors] == list(BOTS)
    assert w.names[w.stranger0 :] == list(STRANGERS)
    assert w.ip_count[0] == MANY_IP_COUNT
    assert all(1 <= k <= 3 for k in w.ip_count[1 : w.n_humans])
    bot_ips = [w.ips[w.ip_table[a, j]] for a in range(w.n_humans, w.n_actors)
               for j in range(w.ip_count[a])]  # fmt: skip
    assert bot_ips and all(ip.startswith("10.20.") for ip in bot_ips)  # bots work inside
    assert len(w.ips) - w.stranger_ip0 == 8  # strangers' addresses come last


def test_accounts_and_hosts():
    w = World(3, 0)
    assert 0 in w.admins  # admin-annie is an editor, so someone can review requests
    assert all(w.mfa[a] and w.device[a] for a in range(w.n_humans))
    assert all(not w.mfa[a] and not w.device[a] for a in range(w.n_humans, w.n_actors))
    assert all(w.roles[a] == [w.names[a]] for a in range(w.n_humans, w.n_actors))
    assert len(w.node_id) == len(w.node_host) == len(w.node_addr) == len(w.node_p) == 24
    assert abs(w.node_p.sum() - 1) < 1e-12
    assert {verb for *_, verb, _path in w.kube_req} == {"GET", "DELETE", "PATCH", "POST"}
    assert len(w.pods) == 10
