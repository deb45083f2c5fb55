"""Grouping a batch by shared token prefixes (pure logic; the model side is in test_local.py)."""

from __future__ import annotations

from rlaif.judges._prefix import PrefixGroup, common_prefix_len, shared_prefix_groups


def test_common_prefix_len() -> None:
    assert common_prefix_len([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_len([1, 2], [1, 2, 3]) == 2 and common_prefix_len([5], [6]) == 0


def test_requests_group_by_what_they_share_and_the_rest_stay_alone() -> None:
    header = [0] * 4
    crit_a, crit_b = [1] * 6, [2] * 6
    sequences = [
        header + crit_a + [10, 11],  # 0: criterion a, answer 1
        header + crit_b + [10, 11],  # 1: criterion b, answer 1
        header + crit_a + [20, 21, 22],  # 2: criterion a, answer 2
        header + crit_b + [20],  # 3: criterion b, answer 2
        [9, 9, 9],  # 4: shares nothing
    ]
    groups = shared_prefix_groups(sequences, min_prefix=8)
    assert groups == [PrefixGroup((0, 2), 10), PrefixGroup((1, 3), 10), PrefixGroup((4,), 0)]


def test_a_prefix_never_swallows_the_scored_last_token() -> None:
    same = [1, 2, 3, 4, 5]
    (group,) = shared_prefix_groups([same, list(same)], min_prefix=2)
    assert group.prefix_len == 4 and set(group.indices) == {0, 1}


def test_too_short_a_shared_prefix_is_not_a_group() -> None:
    groups = shared_prefix_groups([[1, 2, 3, 7], [1, 2, 3, 8]], min_prefix=16)
    assert groups == [PrefixGroup((0, 1), 0)]
