"""Published THUMOS14 results of the methods wsal implements (for ``wsal compare``).

Numbers are the papers' own, on the real two-stream I3D features of
THUMOS14 (test split), mAP in percent at the tIoU thresholds each paper
reports. They are printed beside results measured by wsal, never mixed
with them: wsal's numbers on synthetic data are not comparable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

__all__ = ['PublishedResult', 'PUBLISHED', 'METHOD_CONFIGS', 'PUBLISHED_LABEL',
           'published_for']

#: The label every published number carries in tables.
PUBLISHED_LABEL = 'published, real I3D features'


@dataclass(frozen=True)
class PublishedResult:
    """A method's published THUMOS14 detection mAP.

    Attributes:
        method: Display name.
        source: Citation (authors, title, venue) and where in the paper.
        ap: ``{tIoU: mAP in percent}`` for the thresholds the paper reports.
        average: ``{'0.1-0.7': value, ...}``: averages the paper prints.
        features: What the numbers were measured on.
    """

    method: str
    source: str
    ap: Dict[float, float]
    average: Dict[str, float] = field(default_factory=dict)
    features: str = 'THUMOS14 test split, two-stream I3D features'

    def at(self, tiou: float) -> Optional[float]:
        """mAP (percent) at ``tiou``, None when the paper does not report it."""
        for t, v in self.ap.items():
            if abs(t - tiou) < 1e-9:
                return v
        return None

    def to_dict(self) -> dict:
        return {'method': self.method, 'source': self.source, 'label': PUBLISHED_LABEL,
                'features': self.features, 'ap': {f'{t:g}': v for t, v in self.ap.items()},
                'average': dict(self.average)}


def _ap(*values: float, start: float = 0.1) -> Dict[float, float]:
    return {round(start + 0.1 * i, 1): v for i, v in enumerate(values)}


#: Method key -> its packaged config (``wsal compare stpn bm ...``).
METHOD_CONFIGS: Dict[str, str] = {
    'stpn': 'stpn/stpn_i3d_thumos14.py',
    'bm': 'bm/bm_i3d_thumos14.py',
    'wtalc': 'wtalc/wtalc_i3d_thumos14.py',
    'basnet': 'basnet/basnet_i3d_thumos14.py',
    'um': 'um/um_i3d_thumos14.py',
    'cola': 'cola/cola_i3d_thumos14.py',
}

#: Method key -> its published THUMOS14 numbers (the papers' comparison tables).
PUBLISHED: Dict[str, PublishedResult] = {
    'stpn': PublishedResult(
        'STPN', 'Nguyen, Liu, Prasad, Han, "Weakly Supervised Action Localization by Sparse '
        'Temporal Pooling Network", CVPR 2018, THUMOS14 table (I3D features)',
        _ap(52.0, 44.7, 35.5, 25.8, 16.9, 9.9, 4.3, 1.2, 0.1)),
    'bm': PublishedResult(
        'Background modeling', 'Nguyen, Ramanan, Fowlkes, "Weakly-supervised Action '
        'Localization with Background Modeling", ICCV 2019, THUMOS14 table (I3D, without '
        'micro-videos)',
        _ap(60.4, 56.0, 46.6, 37.5, 26.8, 17.6, 9.0)),
    'wtalc': PublishedResult(
        'W-TALC', 'Paul, Roy, Roy-Chowdhury, "W-TALC: Weakly-supervised Temporal Activity '
        'Localization and Classification", ECCV 2018, THUMOS14 table (I3D features)',
        {0.1: 55.2, 0.2: 49.6, 0.3: 40.1, 0.4: 31.1, 0.5: 22.8, 0.7: 7.6}),
    'basnet': PublishedResult(
        'BaS-Net', 'Lee, Uh, Byun, "Background Suppression Network for Weakly-supervised '
        'Temporal Action Localization", AAAI 2020, THUMOS14 table',
        _ap(58.2, 52.3, 44.6, 36.0, 27.0, 18.6, 10.4, 3.9, 0.5), {'0.1-0.9': 27.9}),
    'um': PublishedResult(
        'UM', 'Lee, Wang, Lu, Byun, "Weakly-supervised Temporal Action Localization by '
        'Uncertainty Modeling", AAAI 2021, THUMOS14 table',
        _ap(67.5, 61.2, 52.3, 43.4, 33.7, 22.9, 12.1), {'0.1-0.7': 41.9}),
    'cola': PublishedResult(
        'CoLA', 'Zhang, Cao, Yang, Chen, Zou, "CoLA: Weakly-Supervised Temporal Action '
        'Localization with Snippet Contrastive Learning", CVPR 2021, THUMOS14 table',
        _ap(66.2, 59.5, 51.5, 41.9, 32.2, 22.0, 13.1), {'0.1-0.7': 40.9}),
}


def published_for(config: str) -> Optional[PublishedResult]:
    """The published result of the method ``config`` trains, if wsal knows it.

    Looks first at the config's own ``paper_result`` (a dict with ``source``
    and ``ap`` = ``{tIoU: mAP %}``, so that a plugin method can carry its
    number), then whether it is one of the packaged :data:`METHOD_CONFIGS` (a
    copy elsewhere, possibly edited, gets no published number).

    Args:
        config: A method key, a packaged config name or a config path.
    """
    from mmengine.config import Config

    from wsal.engine.config_paths import resolve_config
    if config in PUBLISHED:
        return PUBLISHED[config]
    path = resolve_config(METHOD_CONFIGS.get(config, config))
    meta = Config.fromfile(str(path)).get('paper_result')
    if meta:
        try:
            ap = {float(k): float(v) for k, v in dict(meta['ap']).items()}
            return PublishedResult(str(meta.get('method', path.stem)), str(meta['source']), ap,
                                   {str(k): float(v) for k, v in
                                    dict(meta.get('average') or {}).items()},
                                   str(meta.get('features', PublishedResult.features)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f'{path}: paper_result must be dict(source=..., ap={{tIoU: mAP %}}, '
                             f'...): {type(exc).__name__}: {exc}') from None
    for key, rel in METHOD_CONFIGS.items():
        if resolve_config(rel).resolve() == path.resolve():
            return PUBLISHED[key]
    return None
