"""wsal.utils.ranges: settings checks that name their owner and key."""
import pytest

from wsal.utils.ranges import check_choice


def test_check_choice_returns_a_listed_value_and_names_owner_and_key():
    assert check_choice(None, owner='S', key='mode', choices=(None, 'a')) is None
    assert check_choice('a', owner='S', key='mode', choices=[None, 'a']) == 'a'
    with pytest.raises(ValueError, match=r"S: mode must be one of \(None, 'a'\), got 'b'"):
        check_choice('b', owner='S', key='mode', choices=(None, 'a'))
