"""The wire format carries plain data exactly and refuses everything else."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from grader.sandbox.harness import _arguments
from grader.sandbox.protocol import (
    ProtocolError,
    Unencodable,
    decode,
    dumps,
    encode,
    read_frame_body,
)


def roundtrip(value):
    return decode(json.loads(json.dumps(encode(value))))


def test_plain_values_survive_exactly():
    value = {"a": [1, 2.5, None, True, "s"], "big": 2**80, "c": 1 + 2j, "nan": float("nan")}
    back = roundtrip(value)
    assert back["a"] == [1, 2.5, None, True, "s"] and back["big"] == 2**80 and back["c"] == 1 + 2j
    assert math.isnan(back["nan"])
    assert type(back["a"][1]) is float and type(back["a"][3]) is bool


def test_arrays_keep_dtype_shape_and_bits():
    for array in (
        np.arange(6, dtype=np.int32).reshape(2, 3),
        np.random.default_rng(0).random((47, 1)),
        np.array(3.5),
        np.array([True, False]),
    ):
        back = roundtrip(array)
        assert back.dtype == array.dtype and back.shape == array.shape
        assert np.array_equal(back, array)


def test_numpy_scalars_become_python_numbers():
    assert type(roundtrip(np.float64(0.25))) is float and type(roundtrip(np.int64(3))) is int


class Sneaky(float):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize(
    "value", [Sneaky(1.0), object(), {1: 2}, np.array(["a"]), np.array([object()]), lambda: 1]
)
def test_non_plain_values_are_refused(value):
    with pytest.raises(Unencodable):
        encode(value)


@pytest.mark.parametrize(
    "data",
    [
        {"$a": ["|O8", [1], "AAAAAAAAAAA="]},  # object arrays never decode
        {"$a": ["<f8", [2], "AAAAAAAAAAA="]},  # data shorter than the shape
        {"$x": 1},  # unknown tag
        {"$f": "1e999"},  # only nan/inf are tagged floats
        {"$d": [[1, 2]]},  # non-string key
        {"a": 1, "b": 2},  # untagged dict
    ],
)
def test_forged_values_are_rejected(data):
    with pytest.raises(ProtocolError):
        decode(data)


def test_nesting_and_size_are_capped():
    deep = [[]]
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ProtocolError):
        decode(deep)
    with pytest.raises(ProtocolError):
        decode(list(range(300_000)))
    with pytest.raises(ProtocolError):
        read_frame_body(b"[1, 2]")


def test_frames_refuse_oversized_values():
    with pytest.raises(Unencodable):
        dumps({"v": encode(np.zeros(3_000_000))})


def test_shared_public_arguments_are_copied_for_each_call():
    args = [{"W": np.arange(6.0).reshape(2, 3)}, [np.ones(2), 3], 2.5]
    shared = [decode(encode(args))]
    first, second = _arguments({"$shared": 0}, shared), _arguments({"$shared": 0}, shared)
    assert encode(first) == encode(second) == encode(args)
    first[0]["W"] += 1  # a function that changes its arguments changes no other call's
    assert first[0]["W"] is not shared[0][0]["W"] and first[1][0] is not shared[0][1][0]
    assert encode(_arguments({"$shared": 0}, shared)) == encode(args)
    assert encode(_arguments(encode(args), [])) == encode(args)
