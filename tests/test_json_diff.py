"""The miss messages' JSON diff gives the lines deepdiff gives, without importing it."""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llm.replay.json_diff import ABSENT, changes
from pytest_llm.replay.misses import differences

# No number that equals a boolean or another type's number (0, 1, 2.0): inside a list of
# scalars deepdiff takes False for 0 and 2 for 2.0 and reports nothing, where the JSON (and so
# the key) differs; the last test below covers those.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(2, 4),
    st.sampled_from([1.5, 2.5]),
    st.text("ab", max_size=2),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from("wxyz"), inner, max_size=4)
    ),
    max_leaves=12,
)


def deepdiff_lines(old: Any, new: Any) -> list[str]:
    """What the miss message printed when it used deepdiff (its tree view, verbose_level 2)."""
    lines = []
    for change in DeepDiff(old, new, verbose_level=2, view="tree").values():
        for level in change:
            path = "$" + level.path().removeprefix("root").replace("['", ".").replace("']", "")
            before = ABSENT if type(level.t1).__name__ == "NotPresent" else level.t1
            after = ABSENT if type(level.t2).__name__ == "NotPresent" else level.t2
            lines.append((path, before, after))
    return sorted(map(repr, lines))


# Derandomized: the same examples every run, so a disagreement cannot come and go.
@settings(max_examples=400, deadline=None, derandomize=True)
@given(JSON, JSON)
def test_the_same_changes_as_deepdiff(old: Any, new: Any) -> None:
    assert sorted(map(repr, changes(old, new))) == deepdiff_lines(old, new)


def test_a_removed_message_is_one_difference_and_a_changed_one_names_its_field() -> None:
    recorded = {"messages": ["system", "hi", "bye"], "model": "m", "tools": [{"name": "a"}]}
    asked = {"messages": ["system", "bye"], "model": "m", "tools": [{"name": "b"}], "seed": 1}
    assert differences(recorded, asked) == [
        "$.messages[1]: recorded 'hi', now absent",
        "$.seed: recorded absent, now 1",
        "$.tools[0].name: recorded 'a', now 'b'",
    ]


def test_a_number_that_turns_into_a_boolean_is_a_change() -> None:
    assert changes({"x": [1]}, {"x": [True]}) == [("$.x[0]", 1, True)]
    assert changes([False, False, False], [False, False, 0]) == [("$[2]", False, 0)]
    assert changes([2, 2, 2], [2, 2, 2.0]) == [("$[2]", 2, 2.0)]
    assert changes({"x": 1}, {"x": 1.0}) == [("$.x", 1, 1.0)]
