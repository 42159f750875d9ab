"""Localizers: the shared base, the head-based localizer and one file per method family."""
from .background_modeling import WeaklySupervisedLocalizer
from .base import StreamLocalizer
from .basnet import BaSNetHead
from .cola import CoLAHead, mine_snippets
from .head_localizer import HeadLocalizer
from .um import UMHead
from .wtalc import WTALCHead

__all__ = ['StreamLocalizer', 'WeaklySupervisedLocalizer', 'HeadLocalizer', 'WTALCHead',
           'BaSNetHead', 'UMHead', 'CoLAHead', 'mine_snippets']
