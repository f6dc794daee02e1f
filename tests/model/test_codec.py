"""``baton.model.codec``'s guards on request JSON: the depth bound and NUL detection, against plain references."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from baton.errors import ValidationError
from baton.model.codec import decode, nested_deeper_than, nul_path

TRICKY_STRINGS = ["", "[", "]", "{[", '"', "\\", '\\"[', "\\\\", "]]}}", "\\u005b", "é[😀", "\\u0000"]


def depth_of(value: Any) -> int:
    """Levels of arrays and objects, by walking the decoded value (the reference)."""
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


def random_json(rng: random.Random, depth: int) -> Any:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice([1, 2.5, None, True, rng.choice(TRICKY_STRINGS)])
    if rng.random() < 0.5:
        return [random_json(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(TRICKY_STRINGS) + str(i): random_json(rng, depth - 1) for i in range(rng.randint(0, 3))}


def test_the_depth_check_agrees_with_walking_the_value() -> None:
    rng = random.Random(8)
    for _ in range(3000):
        value = random_json(rng, rng.randint(0, 9))
        raw = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        for bound in (0, 1, 2, 3, 5, 8):
            assert nested_deeper_than(raw, bound) == (depth_of(value) > bound), (raw, bound)


@pytest.mark.parametrize("depth", [127, 128, 129, 1000, 100_000])
def test_deep_nesting_is_refused_past_the_bound_and_never_reaches_the_decoder(depth: int) -> None:
    raw = ("[" * depth + "]" * depth).encode()
    if depth <= 128:
        assert decode(raw, list, max_depth=128) is not None
        return
    with pytest.raises(ValidationError) as refused:
        decode(raw, list, max_depth=128)
    assert refused.value.message == "body: nested deeper than 128 levels"


def test_unbalanced_text_is_left_to_the_decoder() -> None:
    with pytest.raises(ValidationError) as refused:
        decode(b"[" + b"[]" * 200, list, max_depth=128)
    assert "malformed JSON" in refused.value.message
    with pytest.raises(ValidationError) as deep:
        decode(b"[" * 5000, list, max_depth=128)
    assert deep.value.errors[0].path == "body"


def test_nul_path_names_the_first_string_or_key_holding_one() -> None:
    assert nul_path(b'{"a": "no nul here", "b": "\\\\u0000"}') is None
    assert nul_path(b'{"a": [1, {"b": "x\\u0000"}]}') == "a[1].b"
    assert nul_path(b'{"a": {"k\\u0000": 1}}') == "a.k\\u0000"
    assert nul_path(b'"\\u0000"') == "body"
    assert nul_path(b'["\\u0000"') is None  # malformed: the decoder says so
    with pytest.raises(ValidationError) as refused:
        decode(b'{"input": {"x": "\\u0000"}}', dict, max_depth=128)
    assert refused.value.errors[0].path == "input.x"
