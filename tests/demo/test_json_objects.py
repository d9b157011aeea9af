"""Column-wise JSON objects render as compact JSON with Teleport's omitempty."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from accessmon.demo.json_objects import JsonObjects, take


def rows(o: JsonObjects) -> list[dict | None]:
    return [None if t is None else json.loads(t) for t in o.render().to_pylist()]


def test_keys_sorted_compact_and_empty_values_omitted():
    o = JsonObjects(3)
    o.const("z", "same")
    o.const("empty", "")
    o.const("ei", 0, keep=True)
    o.pick("b", ["", "x", ["l"]], np.array([0, 1, 2]))
    o.int("n", np.array([0, 5, 7]))
    o.pick("flag", [True, False], np.array([0, 1, 0]), keep=True)
    out = o.render().to_pylist()
    assert out[0] == '{"ei":0,"flag":true,"z":"same"}'
    assert json.loads(out[1]) == {"b": "x", "ei": 0, "flag": False, "n": 5, "z": "same"}
    assert json.loads(out[2])["b"] == ["l"]
    for text in out:
        assert json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True) == text


def test_omitted_rows_and_nested_objects():
    o = JsonObjects(3)
    o.pick("who", ["a", "b"], np.array([0, 1, 0]), np.array([False, False, True]))
    sub = JsonObjects(3)
    sub.pick("user", ["u1", "u2"], np.array([0, 1, 1]), np.array([False, True, False]))
    o.obj("target", sub, np.array([False, False, True]))
    o.text("ip", pa.array(["1.2.3.4", None, "5.6.7.8"]))
    assert rows(o) == [
        {"ip": "1.2.3.4", "target": {"user": "u1"}, "who": "a"},
        {"who": "b"},  # an empty nested object has no key
        {"ip": "5.6.7.8"},
    ]


def test_a_row_without_keys_is_null():
    o = JsonObjects(2)
    o.pick("k", ["v"], np.array([0, 0]), np.array([True, False]))
    assert o.render().to_pylist() == [None, '{"k":"v"}']
    assert JsonObjects(2).render().to_pylist() == [None, None]


def test_time_and_take():
    o = JsonObjects(1)
    o.time("t", np.array([86_400_000 + 1]))
    assert rows(o) == [{"t": "1970-01-02T00:00:00.001Z"}]
    vocab = pa.array(["a", "b"])
    assert take(vocab, np.array([1, 0]), np.array([False, True])).to_pylist() == ["b", None]
