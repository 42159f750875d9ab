"""wsal.utils.ranges: settings checks that name their owner and key."""
import pytest

from wsal.utils.ranges import check_choice


def test_check_choice_returns_a_listed_value_and_names_owner_and_key():
    assert check_choice(None, owner='S', key='mode', choices=(None, 'a')) is None
    assert check_choice('a', owner='S', key='mode', choices=[None, 'a']) == 'a'
    with pytest.raises(ValueError, match=r"S: mode must be one of \(None, 'a'\), got 'b'"):
        check_choice('b', owner='S', key='mode', choices=(None, 'a'))


@pytest.mark.parametrize('cfg, message', [
    (dict(type='BackgroundLoss', pool='max'), "BackgroundLoss: pool must be one of .*'max'"),
    (dict(type='ClusterLoss', head='own'), "ClusterLoss: head must be one of .*'own'"),
    (dict(type='VideoBCELoss', background='both'),
     "VideoBCELoss: background must be one of .*'both'"),
    (dict(type='AttentionAvgPool', normalize='sum'),
     "AttentionAvgPool: normalize must be one of .*'sum'"),
    (dict(type='WeaklySupervisedLocalizer', num_classes=3, streams=dict(rgb=4),
          video_score='max'), "WeaklySupervisedLocalizer: video_score must be one of .*'max'"),
])
def test_components_refuse_an_unknown_choice_by_owner_and_key(cfg, message):
    from wsal.registry import LOSSES, MODELS
    registry = LOSSES if cfg['type'].endswith('Loss') else MODELS
    with pytest.raises(ValueError, match=message):
        registry.build(cfg)
