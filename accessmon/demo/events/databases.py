"""Database sessions and the queries run in them (postgres, mysql, mongodb)."""

from __future__ import annotations

import numpy as np

from accessmon.demo.context import ChunkContext, EventBatch
from accessmon.demo.fixed_width import HOUR_MS
from accessmon.demo.json_objects import JsonObjects
from accessmon.demo.planted import DB_DENIED_RATE, POSTGRES_SUPERUSER_RATE
from accessmon.demo.world import DATABASES, DB_WEIGHTS

#: Queries per protocol; each database's sessions run those of its protocol.
_QUERIES = {
    "postgres": (
        "SELECT * FROM orders WHERE id = $1", "SELECT count(*) FROM users",
        "UPDATE orders SET status = 'shipped' WHERE id = 4211", "BEGIN", "COMMIT",
        "SELECT version()", "select * from pg_stat_activity",
        "DELETE FROM sessions WHERE expires < now()",
    ),
    "mysql": (
        "SELECT * FROM invoices WHERE customer_id = ?", "SHOW TABLES", "SELECT @@version",
        "UPDATE invoices SET paid = 1 WHERE id = 991",
    ),
    "mongodb": (
        '{"find":"events","filter":{"type":"click"},"limit":50}',
        '{"aggregate":"events","pipeline":[{"$group":{"_id":"$type","n":{"$sum":1}}}]}',
        '{"insert":"events","ordered":true}',
    ),
}  # fmt: skip
#: The error of a failed query, per protocol.
_QUERY_ERRORS = {
    "postgres": "ERROR: permission denied for table users (SQLSTATE 42501)",
    "mysql": "Error 1142 (42000): SELECT command denied to user 'billing_ro' for table 'secrets'",
    "mongodb": "not authorized on admin to execute command { listDatabases: 1 }",
}


def db_session_start(cx: ChunkContext, n: int | None) -> EventBatch:
    """Database connections: some denied, some as the postgres superuser."""
    f = cx.start("db.session.start", n, bot_share=0.15)
    n, o, w = f.n, f.obj, cx.w
    denied = cx.chance(DB_DENIED_RATE, n)
    cx.status(
        f,
        ~denied,
        "TDB00I",
        "TDB00W",
        ["access to db denied. User does not have permissions. Confirm database user and name."],
    )
    o.pick("message", ["", "access to db denied"], denied.astype(np.int32))
    sec = cx.security(f.actor)
    cx.user_meta(f, sec)
    superuser = cx.chance(POSTGRES_SUPERUSER_RATE, n)
    db = cx.rng.choice(len(DATABASES), n, p=DB_WEIGHTS / DB_WEIGHTS.sum())
    pg = np.array([i for i, d in enumerate(DATABASES) if d[1] == "postgres"])
    db = np.where(superuser, pg[cx.rng.integers(0, len(pg), n)], db)
    # database users: each database's own, then "postgres" (planted)
    users = [u for d in DATABASES for u in d[6]]
    du = _one_of_its_own(cx, [d[6] for d in DATABASES], db)
    du = np.where(superuser, len(users), du)
    o.pick("db_user", [*users, "postgres"], du)
    names = [x for d in DATABASES for x in d[5]]
    dn = _one_of_its_own(cx, [d[5] for d in DATABASES], db)
    o.pick("db_name", names, dn)
    _database_keys(o, db)
    o.pick("db_origin", ["config", "dynamic"], (db % 2).astype(np.int32))
    agent = db % 2
    o.pick("server_id", w.db_id, agent)
    o.pick("server_hostname", w.db_host, agent)
    o.const("namespace", "default")
    o.const("proto", "db")
    cx.remote(f)
    o.const("addr.local", "10.0.3.15:3080")
    cx.session_keys(f)
    f.extra.update(
        db=db, du=du, dn=dn, denied=denied, sec=sec, users=[*users, "postgres"], names=names
    )
    return f


def db_query(cx: ChunkContext, n: int | None, etype: str = "db.session.query") -> EventBatch:
    """Queries in the sessions that were allowed; db.session.query.failed ones carry an error."""
    p = cx.parent("db.session.start", db_session_start)
    okp = np.flatnonzero(~p.extra["denied"])
    if len(okp) == 0:
        okp = np.arange(p.n)
    m = cx.n(etype) if n is None else n
    pick = okp[cx.rng.integers(0, len(okp), m)]
    f = cx.child(etype, p, pick, 200, HOUR_MS)
    o, db = f.obj, p.extra["db"][pick]
    failed = etype.endswith("failed")
    o.int("ei", cx.rng.integers(1, 5000, m), keep=True)
    proto = [d[1] for d in DATABASES]
    queries = [q for d in DATABASES for q in _QUERIES[d[1]]]
    o.pick("db_query", queries, _one_of_its_own(cx, [_QUERIES[d[1]] for d in DATABASES], db))
    if failed:
        cx.status(f, np.zeros(m, bool), "TDB02I", "TDB02W")
        o.pick("error", [_QUERY_ERRORS[x] for x in proto], db)
    else:
        o.const("code", "TDB02I")
        o.const("success", True)
    o.pick("db_user", p.extra["users"], p.extra["du"][pick])
    o.pick("db_name", p.extra["names"], p.extra["dn"][pick])
    _database_keys(o, db)
    o.fixed("sid", p.sid[pick])
    f.sid = p.sid[pick]
    cx.user_meta(f, {k: v[pick] for k, v in p.extra["sec"].items()})
    return f


def db_query_failed(cx: ChunkContext, n: int | None) -> EventBatch:
    """Queries refused by the database (TDB02W)."""
    return db_query(cx, n, "db.session.query.failed")


def _one_of_its_own(cx: ChunkContext, lists: list, db: np.ndarray) -> np.ndarray:
    """Per row, an index into the concatenation of lists: a random item of lists[db[i]]."""
    first = np.cumsum([0, *[len(x) for x in lists]])
    counts = np.array([len(x) for x in lists])
    return first[db] + (cx.rng.random(len(db)) * counts[db]).astype(np.int64)


def _database_keys(o: JsonObjects, db: np.ndarray) -> None:
    """The keys that say which database of the world a row is about."""
    o.pick("db_service", [d[0] for d in DATABASES], db)
    o.pick("db_protocol", [d[1] for d in DATABASES], db)
    o.pick("db_uri", [d[2] for d in DATABASES], db)
    o.pick("db_type", [d[3] for d in DATABASES], db)
    o.pick("db_aws_region", [d[4] for d in DATABASES], db)
