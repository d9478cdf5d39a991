import json

import numpy as np
import payloads
import pytest
from payloads import CSV, JSON, PayloadError


def status_of(call, *args) -> int:
    with pytest.raises(PayloadError) as caught:
        call(*args)
    return caught.value.status


def test_csv_single_and_batch() -> None:
    assert payloads.decode_csv(b"1,2,3\n", 3).shape == (1, 3)
    assert payloads.decode_csv(b"1,2,3\r\n4,5,6\n\n", 3).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_json_shapes() -> None:
    assert payloads.decode_json(b"[1, 2.5, 3]", 3).shape == (1, 3)
    assert payloads.decode_json(b"[[1, 2, 3], [4, 5, 6]]", 3).shape == (2, 3)
    assert payloads.decode_json(b'{"instances": [[1, 2, 3]]}', 3).shape == (1, 3)


@pytest.mark.parametrize(
    ("body", "kind", "needle"),
    [
        (b"", CSV, "empty request body"),
        (b"   \n", CSV, "empty request body"),
        (b"1,2\n", CSV, "row 1 has 2 columns; the model expects 3"),
        (b"1,2,3\n1,2\n", CSV, "row 2 has 2 columns"),
        (b"1,abc,3\n", CSV, "non-numeric value: 'abc'"),
        (b"1,nan,3\n", CSV, "finite numbers"),
        (b"\xff\xfe1,2,3", CSV, "not UTF-8"),
        (b"[1, 2", JSON, "malformed JSON"),
        (b'{"rows": []}', JSON, '"instances"'),
        (b'[1, "a", 3]', JSON, "must be a number"),
        (b"[true, 1, 3]", JSON, "must be a number"),
        (b"[[1, 2, 3], 4]", JSON, "must be a list of numbers"),
        (b"[1, 2]", JSON, "JSON row 1 has 2 features; the model expects 3"),
        (b"[[1, 2, 3], [1, 2]]", JSON, "JSON row 2 has 2 features"),
        (b"[1, 1" + b"0" * 400 + b", 3]", JSON, "finite numbers"),
        (b"[1, 1" + b"0" * 5000 + b", 3]", JSON, "finite numbers"),
        (b"[1, 1e999999, 3]", JSON, "finite numbers"),
        (b"[1, NaN, 3]", JSON, "finite numbers"),
        (b"[" * 5000 + b"]" * 5000, JSON, "JSON nested 5000 levels deep; at most 64"),
        (b"[" * 100_000, JSON, "JSON nested 100000 levels deep"),
        (b"[]", JSON, "non-empty"),
    ],
)
def test_client_mistakes_are_400_with_a_reason(body: bytes, kind: str, needle: str) -> None:
    with pytest.raises(PayloadError) as caught:
        payloads.decode(body, kind, 3)
    assert caught.value.status == 400
    assert needle in caught.value.message


def test_content_type_and_accept() -> None:
    assert payloads.request_format("text/csv; charset=utf-8") == CSV
    assert status_of(payloads.request_format, "text/plain") == 415
    assert status_of(payloads.request_format, None) == 415
    assert payloads.response_format(None, CSV) == CSV
    assert payloads.response_format("*/*", JSON) == JSON
    assert payloads.response_format("application/json, text/csv", CSV) == JSON
    assert status_of(payloads.response_format, "image/png", CSV) == 406


def test_encoding() -> None:
    labels, probabilities = np.array([1, 0]), np.array([0.9, 0.1])
    assert payloads.encode(labels, probabilities, CSV) == "1\n0\n"
    assert json.loads(payloads.encode(labels, probabilities, JSON)) == {
        "predictions": [{"label": 1, "probability": 0.9}, {"label": 0, "probability": 0.1}]
    }


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"[1, 2, 3]", 1),
        (b'{"instances": [[1, 2], [3, 4]]}', 3),
        (b'["[[[[", "\\"[[", 1]', 1),  # brackets inside strings, escaped quotes
        (b'{"a": [{"b": [[]]}]}', 5),
        (b"]]]", 0),
        (b"", 0),
    ],
)
def test_json_depth_counts_brackets_outside_strings(body: bytes, depth: int) -> None:
    assert payloads.json_depth(body) == depth


def test_the_depth_limit_is_inclusive() -> None:
    limit = payloads.MAX_JSON_DEPTH

    def message_for(depth: int) -> str:
        with pytest.raises(PayloadError) as caught:
            payloads.decode_json(b"[" * depth + b"1" + b"]" * depth, 1)
        return caught.value.message

    assert "nested" not in message_for(limit)  # parsed, then refused as not rows of numbers
    assert f"nested {limit + 1} levels deep" in message_for(limit + 1)


def test_integers_are_read_as_floats() -> None:
    assert payloads.decode_json(b"[1, 2, 3]", 3).dtype == np.float64
    assert payloads.decode_json(b"[1, 2, 3]", 3).tolist() == [[1.0, 2.0, 3.0]]
