"""Trino's array, map and aggregate functions made to give Trino's answers on DuckDB.

sqlglot maps most of them already (contains, cardinality, element_at, filter, transform,
array_join, flatten, slice, max_by...); these rewrites cover the ones it passes through
unchanged, or changes in meaning. Each is checked against a real Trino by
tests/trino/test_corpus_arrays.py. What has no faithful rewrite is in NOT_LOCAL and
NOT_LOCAL_USES, refused before the query runs by fidelity.refuse_unfaithful.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp

from accessmon.sql.trino_numbers import typed_twins

#: Trino function -> what to use instead on the local engine (see fidelity.NOT_LOCAL): the
#: functions DuckDB lacks, or has with another meaning, and that have no rewrite here.
NOT_LOCAL: dict[str, str] = {
    "array_frequency": "use CROSS JOIN UNNEST(x) AS t(v) with count(*) ... GROUP BY v",
    "array_has_duplicates": "use cardinality(array_distinct(x)) < cardinality(x)",
    "combinations": "use CROSS JOIN UNNEST twice",
    "contains_sequence": "use strpos(array_join(x, ' '), array_join(seq, ' ')) > 0",
    "map_filter": "use UNNEST(map_keys(m), map_values(m)) with a WHERE",
    "map_zip_with": "use UNNEST(map_keys(m)) and element_at",
    "multimap_agg": "use array_agg(v) ... GROUP BY k",
    "ngrams": "use slice(x, i, n) with sequence",
    "shuffle": "use the array as it is (shuffle's order is random on Athena too)",
    "transform_keys": "use UNNEST(map_keys(m), map_values(m)) and map_agg",
    "transform_values": "use UNNEST(map_keys(m), map_values(m)) and map_agg",
    "trim_array": "use slice(x, 1, cardinality(x) - n)",
    "zip": "use UNNEST(a, b) AS t(x, y)",
    "zip_with": "use transform(sequence(1, n), i -> f(element_at(a, i), element_at(b, i)))",
    "checksum": "use array_join(array_sort(array_agg(x)), ',') to compare sets",
}

#: Uses refused by fidelity.refuse_unfaithful: array_sort with a comparator, which sqlglot
#: would drop for DuckDB (sorting the natural way instead).
NOT_LOCAL_USES = [
    (
        "array_sort with a comparator",
        lambda node: isinstance(node, exp.ArraySort) and node.expression is not None,
        "use array_sort(x) or reverse(array_sort(x)),",
    ),
]


def _fill(template: str, **parts: exp.Expression) -> exp.Expression:
    """The DuckDB expression `template`, its placeholder columns `__name` replaced by copies
    of the query's own subtrees (kept as nodes, so later rewrites still see them)."""
    tree = sqlglot.parse_one(template, read="duckdb")
    for column in list(tree.find_all(exp.Column)):
        if column.name.startswith("__") and not column.table:
            column.replace(parts[column.name[2:]].copy())
    return tree


def _null_on_null(
    template: str, strict: tuple[str, ...], **parts: exp.Expression
) -> exp.Expression:
    """`template` filled with `parts`, NULL when one of the `strict` parts is NULL: Trino's
    functions return NULL for a NULL argument, where DuckDB's often answer."""
    nulls = " OR ".join(f"(__{name}) IS NULL" for name in strict)
    return _fill(f"CASE WHEN {nulls} THEN NULL ELSE {template} END", **parts)


def _inner(node: exp.Expression, transform) -> exp.Expression:
    """A subtree with `transform` applied: sqlglot's transform does not descend into the
    node it just replaced, so calls nested in the arguments are rewritten here."""
    return node.copy().transform(transform, copy=False)


def _call(node: exp.Expression, name: str, arity: int) -> bool:
    return (
        isinstance(node, exp.Anonymous)
        and node.name.lower() == name
        and len(node.expressions) == arity
    )


#: name -> (list aggregate over each element's 0/1/2 for false/NULL/true, then the answer
#: for 2, 1, 0 and the empty array). Trino's three-valued logic: any_match is true if one
#: element matches, else NULL if a predicate was NULL, else false; all_match and none_match
#: likewise, and an empty array gives false, true, true.
_MATCHES = {
    "any_match": ("list_max", "TRUE", "NULL", "FALSE", "FALSE"),
    "all_match": ("list_min", "TRUE", "NULL", "FALSE", "TRUE"),
    "none_match": ("list_max", "FALSE", "NULL", "TRUE", "TRUE"),
}


def _trino_match_to_duckdb(node: exp.Expression) -> exp.Expression:
    """any_match / all_match / none_match(array, x -> predicate), with Trino's NULLs."""
    name = node.name.lower() if isinstance(node, exp.Anonymous) else ""
    if name not in _MATCHES or len(node.expressions) != 2:
        return node
    array, fn = (_inner(a, _trino_match_to_duckdb) for a in node.expressions)
    if not isinstance(fn, exp.Lambda) or len(fn.expressions) != 1:
        return node
    agg, two, one, zero, empty = _MATCHES[name]
    score = _fill("CASE (__body) WHEN TRUE THEN 2 WHEN FALSE THEN 0 ELSE 1 END", body=fn.this)
    scored = exp.Anonymous(
        this="list_transform",
        expressions=[array, exp.Lambda(this=score, expressions=fn.expressions)],
    )
    return _null_on_null(
        f"CASE {agg}(__scored) WHEN 2 THEN {two} WHEN 1 THEN {one} WHEN 0 THEN {zero} "
        f"ELSE {empty} END",
        ("array",),
        array=array,
        scored=scored,
    )


def _trino_every_to_duckdb(node: exp.Expression) -> exp.Expression:
    """every(b) is Trino's other name for bool_and."""
    if _call(node, "every", 1):
        return exp.LogicalAnd(this=_inner(node.expressions[0], _trino_every_to_duckdb))
    return node


def _trino_histogram_to_duckdb(node: exp.Expression) -> exp.Expression:
    """histogram(x) is a MAP(x's type, bigint) on Trino; DuckDB's counts are UBIGINT."""
    if not _call(node, "histogram", 1):
        return node
    return _fill(
        "map_from_entries(list_transform(map_entries(histogram(__x)), "
        "lambda e: struct_pack(k := e.key, v := CAST(e.value AS BIGINT))))",
        x=node.expressions[0],
    )


def _trino_map_agg_to_duckdb(node: exp.Expression) -> exp.Expression:
    """map_agg(k, v): a map of the rows' pairs, rows with a NULL key left out."""
    if not _call(node, "map_agg", 2):
        return node
    k, v = node.expressions
    return _fill(
        "map_from_entries(list(struct_pack(k := __k, v := __v)) FILTER (WHERE __k IS NOT NULL))",
        k=k,
        v=v,
    )


def _trino_arrays_overlap_to_duckdb(node: exp.Expression) -> exp.Expression:
    """arrays_overlap: true on a common non-NULL element, else NULL if either holds a NULL."""
    if not _call(node, "arrays_overlap", 2):
        return node
    a, b = (_inner(x, _trino_arrays_overlap_to_duckdb) for x in node.expressions)
    return _null_on_null(
        "CASE WHEN list_has_any(__a, __b) THEN TRUE "
        "WHEN len(list_filter(__a, lambda x: x IS NULL)) > 0 "
        "OR len(list_filter(__b, lambda x: x IS NULL)) > 0 THEN NULL ELSE FALSE END",
        ("a", "b"),
        a=a,
        b=b,
    )


#: Expressions that are maps on Trino, recognised without a type pass.
_MAP_MAKERS = ("histogram", "map_agg", "map", "map_from_entries", "multimap_agg")


def is_map(node: exp.Expression) -> bool:
    """Whether an expression makes a map (by its call; no type pass)."""
    if isinstance(node, exp.Map | exp.VarMap | exp.MapFromEntries):
        return True
    return isinstance(node, exp.Anonymous) and node.name.lower() in _MAP_MAKERS


def _trino_map_cardinality_to_duckdb(node: exp.Expression) -> exp.Expression:
    """cardinality(map) is a bigint; sqlglot writes array_length, which DuckDB has only for
    lists. Runs before the map makers are rewritten, so it still sees them by name."""
    if isinstance(node, exp.ArraySize) and is_map(node.this):
        inner = _inner(node.this, _trino_map_cardinality_to_duckdb)
        return _fill("CAST(cardinality(__m) AS BIGINT)", m=inner)
    return node


def _trino_unnest_zip_to_duckdb(node: exp.Expression) -> exp.Expression:
    """`UNNEST(a, b) AS t(x, y)` zips the arrays, padding the shorter with NULLs; so do
    DuckDB's UNNESTs side by side in one SELECT."""
    if not (isinstance(node, exp.Unnest) and isinstance(node.parent, exp.Join | exp.From)):
        return node
    alias = node.args.get("alias")
    arrays = node.expressions
    if len(arrays) < 2 or not alias or len(alias.columns) != len(arrays):
        return node
    if node.args.get("offset"):
        return node
    select = exp.select(*(exp.Unnest(expressions=[a.copy()]) for a in arrays))
    return exp.Subquery(this=select, alias=alias.copy())


def _trino_reduce_finish_to_duckdb(node: exp.Expression) -> exp.Expression:
    """reduce(a, s0, (s, x) -> ..., s -> finish): sqlglot drops the finish lambda for DuckDB
    (with a warning only); apply it to the reduced state."""
    if not isinstance(node, exp.Reduce) or not isinstance(node.args.get("finish"), exp.Lambda):
        return node
    reduced = node.copy()
    for key, arg in list(reduced.args.items()):
        if isinstance(arg, exp.Expression):
            reduced.set(key, _inner(arg, _trino_reduce_finish_to_duckdb))
    finish = reduced.args["finish"]
    reduced.set("finish", None)
    params = finish.expressions
    if (
        len(params) == 1
        and isinstance(finish.this, exp.Identifier | exp.Column)
        and finish.this.name == params[0].name
        and not getattr(finish.this, "table", "")
    ):
        return reduced  # s -> s
    once = exp.Anonymous(
        this="list_transform",
        expressions=[exp.Array(expressions=[reduced]), finish],
    )
    return _fill("(__once)[1]", once=once)


def _trino_subscripts_to_duckdb(node: exp.Expression) -> exp.Expression:
    """Subscripts and element_at that fail on Trino where DuckDB gives NULL. Runs on the whole
    query once (at its root): whether a subscript is an array's comes from the type pass."""
    if node.parent is not None or not isinstance(node, exp.Query):
        return node
    for original, twin in typed_twins(node, (exp.Bracket,)) or []:
        if twin.args.get("safe"):
            _checked_element_at(original, twin)
        else:
            _checked_subscript(original, twin)
    return node


def _is_array(node: exp.Expression) -> bool:
    return node.type is not None and node.type.is_type(exp.DataType.Type.ARRAY)


def _checked_element_at(original: exp.Bracket, twin: exp.Bracket) -> None:
    """element_at(a, 0) fails on Trino ("SQL array indices start at 1"), where DuckDB's a[0]
    is NULL; a NULL array stays NULL. A map's key 0 is only a key."""
    if len(original.expressions) != 1 or is_map(original.this):
        return
    if not (_is_array(twin.this) or twin.this.type is None or twin.this.type.is_type("unknown")):
        return
    original.replace(
        _fill(
            "CASE WHEN (__a) IS NOT NULL AND (__i) = 0 "
            "THEN error('SQL array indices start at 1') ELSE __b END",
            a=original.this,
            i=original.expressions[0],
            b=original,
        )
    )


def _one_based(index: exp.Expression) -> exp.Expression:
    """sqlglot keeps a Trino subscript 0-based: `a[2]` as 1, `a[i]` as `i + -1`."""
    if index.is_int:
        return exp.Literal.number(int(index.this) + 1)
    if isinstance(index, exp.Add) and index.expression.is_number and index.expression.to_py() == -1:
        return index.this
    return exp.Add(this=exp.Paren(this=index.copy()), expression=exp.Literal.number(1))


def _checked_subscript(original: exp.Bracket, twin: exp.Bracket) -> None:
    """`a[i]` fails on Trino past the array's end (and below 1), and `m[k]` for a key the map
    lacks; element_at gives NULL there, and so does DuckDB's subscript."""
    if len(original.expressions) != 1:
        return
    index = original.expressions[0]
    if _is_array(twin.this):
        one_based = _one_based(index)
        check = _fill(
            "CASE WHEN (__i) < 1 THEN error('SQL array indices start at 1') "
            "WHEN (__i) > len(__a) THEN error('Array subscript must be less than or equal "
            "to array length') ELSE __b END",
            i=one_based,
            a=original.this,
            b=original,
        )
    elif is_map(original.this):
        check = _fill(
            "CASE WHEN (__k) IS NOT NULL AND NOT map_contains(__m, __k) "
            "THEN error('Key not present in map') ELSE __b END",
            k=index,
            m=original.this,
            b=original,
        )
    else:
        return
    original.replace(check)


def _trino_count_if_to_duckdb(node: exp.Expression) -> exp.Expression:
    """count_if is a bigint and 0 over no rows on Trino; DuckDB's is a HUGEINT, NULL there."""
    if not isinstance(node, exp.CountIf):
        return node
    cond = _inner(node.this, _trino_count_if_to_duckdb)
    return exp.Count(this=exp.If(this=cond, true=exp.Literal.number(1)))


def _trino_approx_distinct_to_duckdb(node: exp.Expression) -> exp.Expression:
    """approx_distinct: Trino's HyperLogLog is exact on small inputs and within its 2.3 %
    standard error beyond; DuckDB's sketch is much coarser (15 for 17 on 40 rows). The local
    engine counts exactly, which is the number Trino's estimate stands for."""
    if not isinstance(node, exp.ApproxDistinct) or isinstance(node.parent, exp.Window):
        return node
    return exp.Count(this=exp.Distinct(expressions=[node.this.copy()]))


def _distinct_in_order(array: exp.Expression) -> exp.Expression:
    """Trino's array_distinct: each value once (NULL too), in the order first seen; DuckDB's
    list_distinct drops NULLs and does not keep the order."""
    return _fill("list_filter(__a, lambda x, i: list_position(__a, x) = i)", a=array)


def _trino_array_distinct_to_duckdb(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.ArrayDistinct):
        return _distinct_in_order(_inner(node.this, _trino_array_distinct_to_duckdb))
    if isinstance(node, exp.ArrayExcept):  # array_except(a, b): a's distinct values not in b
        a, b = (_inner(x, _trino_array_distinct_to_duckdb) for x in (node.this, node.expression))
        return _null_on_null(
            "list_filter(__d, lambda e: len(list_filter(__b, lambda x: x IS NOT DISTINCT FROM e)) = 0)",
            ("a", "b"),
            a=a,
            b=b,
            d=_distinct_in_order(a),
        )
    return node


_HAS_NULL = "len(list_filter(__a, lambda x: x IS NULL)) > 0"


def _trino_contains_to_duckdb(node: exp.Expression) -> exp.Expression:
    """contains(a, x) is NULL when x is not found but a holds a NULL (or x is NULL);
    DuckDB says false, or finds the NULL."""
    if not isinstance(node, exp.ArrayContains):
        return node
    a, x = (_inner(v, _trino_contains_to_duckdb) for v in (node.this, node.expression))
    return _null_on_null(
        f"CASE WHEN list_contains(__a, __x) THEN TRUE WHEN {_HAS_NULL} THEN NULL ELSE FALSE END",
        ("a", "x"),
        a=a,
        x=x,
    )


def _trino_array_max_to_duckdb(node: exp.Expression) -> exp.Expression:
    """array_max / array_min are NULL when the array holds a NULL; DuckDB skips NULLs."""
    if not isinstance(node, exp.ArrayMax | exp.ArrayMin):
        return node
    a = _inner(node.this, _trino_array_max_to_duckdb)
    agg = "list_max" if isinstance(node, exp.ArrayMax) else "list_min"
    return _fill(f"CASE WHEN {_HAS_NULL} THEN NULL ELSE {agg}(__a) END", a=a)


def _trino_array_remove_to_duckdb(node: exp.Expression) -> exp.Expression:
    """array_remove keeps the array's NULLs; sqlglot's `x <> value` filter drops them."""
    if not isinstance(node, exp.ArrayRemove):
        return node
    a, x = (_inner(v, _trino_array_remove_to_duckdb) for v in (node.this, node.expression))
    return _null_on_null("list_filter(__a, lambda e: e IS NULL OR e <> __x)", ("x",), a=a, x=x)


def _trino_array_intersect_to_duckdb(node: exp.Expression) -> exp.Expression:
    """array_intersect(a, b): a's distinct values (NULL too) that b holds, in a's order."""
    if not isinstance(node, exp.ArrayIntersect) or len(node.expressions) != 2:
        return node
    a, b = (_inner(v, _trino_array_intersect_to_duckdb) for v in node.expressions)
    return _fill(
        "list_filter(__d, lambda e: list_position(__b, e) IS NOT NULL)",
        d=_distinct_in_order(a),
        b=b,
    )


def _trino_array_union_to_duckdb(node: exp.Expression) -> exp.Expression:
    """array_union(a, b): the distinct values of both, in the order first seen."""
    if not _call(node, "array_union", 2):
        return node
    a, b = (_inner(v, _trino_array_union_to_duckdb) for v in node.expressions)
    return _distinct_in_order(_fill("list_concat(__a, __b)", a=a, b=b))


def _trino_array_position_to_duckdb(node: exp.Expression) -> exp.Expression:
    """array_position is 0 when the value is absent (DuckDB: NULL), NULL for a NULL value
    (DuckDB finds the NULL), and a bigint."""
    if not isinstance(node, exp.ArrayPosition) or node.args.get("start") is not None:
        return node
    a, x = (_inner(v, _trino_array_position_to_duckdb) for v in (node.this, node.expression))
    return _null_on_null(
        "CAST(coalesce(list_position(__a, __x), 0) AS BIGINT)", ("a", "x"), a=a, x=x
    )


def _trino_slice_to_duckdb(node: exp.Expression) -> exp.Expression:
    """slice(a, start, length) on Trino, where DuckDB's list_slice takes (begin, end); a
    negative start counts from the end; start 0 is an error."""
    if not isinstance(node, exp.ArraySlice) or node.args.get("step") is not None:
        return node
    a, start, length = (
        _inner(node.args[k], _trino_slice_to_duckdb) if node.args.get(k) else None
        for k in ("this", "start", "end")
    )
    if start is None or length is None:
        return node
    return _fill(
        "CASE WHEN (__s) = 0 THEN error('SQL array indices start at 1') "
        "WHEN (__n) < 0 THEN error('length must be greater than or equal to 0') "
        "WHEN (__s) > 0 THEN list_slice(__a, __s, (__s) + (__n) - 1) "
        "WHEN len(__a) + (__s) + 1 < 1 THEN list_slice(__a, 1, 0) "
        "ELSE list_slice(__a, len(__a) + (__s) + 1, len(__a) + (__s) + (__n)) END",
        a=a,
        s=start,
        n=length,
    )


def _trino_max_by_to_duckdb(node: exp.Expression) -> exp.Expression:
    """max_by / min_by keep a NULL x from the row with the largest y, also in a window;
    DuckDB's arg_max skips rows whose x is NULL. The 3-argument form gives an array, so in a
    window the whole window call is wrapped."""
    window = node if isinstance(node, exp.Window) else None
    call = node.this if window is not None else node
    if not isinstance(call, exp.ArgMax | exp.ArgMin):
        return node
    if window is None and isinstance(node.parent, exp.Window):
        return node  # its window is rewritten instead
    name = "arg_max" if isinstance(call, exp.ArgMax) else "arg_min"
    x, y = (_inner(v, _trino_max_by_to_duckdb) for v in (call.this, call.expression))
    n = call.args.get("count")
    if n is None:
        agg = exp.Anonymous(this=f"{name}_null", expressions=[x, y])
    else:
        agg = _fill(f"{name}(struct_pack(v := __x), __y, __n)", x=x, y=y, n=n)
    if window is not None:
        over = window.copy()
        over.set("this", agg)
        agg = over
    return agg if n is None else _fill("list_transform(__agg, lambda s: s.v)", agg=agg)


#: Each rewrite, and what in a query makes it worth a pass over the tree: node types, or
#: the names of calls sqlglot does not know.
_PASSES: list[tuple[Callable[[exp.Expression], exp.Expression], tuple[type | str, ...]]] = [
    (_trino_subscripts_to_duckdb, (exp.Bracket,)),
    (_trino_count_if_to_duckdb, (exp.CountIf,)),
    (_trino_approx_distinct_to_duckdb, (exp.ApproxDistinct,)),
    (_trino_array_distinct_to_duckdb, (exp.ArrayDistinct, exp.ArrayExcept)),
    (_trino_array_position_to_duckdb, (exp.ArrayPosition,)),
    (_trino_contains_to_duckdb, (exp.ArrayContains,)),
    (_trino_array_max_to_duckdb, (exp.ArrayMax, exp.ArrayMin)),
    (_trino_array_union_to_duckdb, ("array_union",)),
    (_trino_array_remove_to_duckdb, (exp.ArrayRemove,)),
    (_trino_array_intersect_to_duckdb, (exp.ArrayIntersect,)),
    (_trino_slice_to_duckdb, (exp.ArraySlice,)),
    (_trino_max_by_to_duckdb, (exp.ArgMax, exp.ArgMin)),
    (_trino_map_cardinality_to_duckdb, (exp.ArraySize,)),
    (_trino_match_to_duckdb, tuple(_MATCHES)),
    (_trino_every_to_duckdb, ("every",)),
    (_trino_histogram_to_duckdb, ("histogram",)),
    (_trino_map_agg_to_duckdb, ("map_agg",)),
    (_trino_arrays_overlap_to_duckdb, ("arrays_overlap",)),
    (_trino_unnest_zip_to_duckdb, (exp.Unnest,)),
    (_trino_reduce_finish_to_duckdb, (exp.Reduce,)),
]


def _present(tree: exp.Expression) -> set[type | str]:
    found: set[type | str] = set()
    for node in tree.walk():
        found.add(type(node))
        if isinstance(node, exp.Anonymous):
            found.add(node.name.lower())
    return found


def _trino_arrays_to_duckdb(node: exp.Expression) -> exp.Expression:
    """All the rewrites above, each a pass over the whole query (at its root), in order;
    a pass runs only if the query has what it rewrites, so a long IN list costs one walk."""
    if node.parent is not None:
        return node
    present = _present(node)
    for rewrite, triggers in _PASSES:
        if present.intersection(triggers):
            node = node.transform(rewrite, copy=False)
            present = _present(node)
    return node


TRANSFORMS = [_trino_arrays_to_duckdb]
