"""Samplers that put videos sharing a class next to each other (W-TALC's pairs)."""
from __future__ import annotations

import random
from typing import Iterator, List, Optional, Sequence

from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import Registry
from torch.utils.data import Sampler

__all__ = ['DATA_SAMPLERS', 'ClassPairSampler', 'class_pairs']

# mmengine allows one ``wsal`` child per root; reuse it if wsal.engine made it first
# (an empty Registry is falsy, hence the explicit membership test)
if 'wsal' in MMENGINE_DATA_SAMPLERS.children:
    DATA_SAMPLERS = MMENGINE_DATA_SAMPLERS.children['wsal']
else:
    DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='wsal')


def _video_labels(dataset) -> List[Sequence[int]]:
    records = getattr(dataset, 'records', None)
    if records is None:
        raise TypeError(f'ClassPairSampler needs a wsal feature dataset (with .records), got '
                        f'{type(dataset).__name__}')
    return [tuple(r.label_indices) for r in records]


def class_pairs(labels: Sequence[Sequence[int]], rng: random.Random) -> Iterator[int]:
    """Endless video indices, two at a time, each pair sharing a random class.

    A class is drawn uniformly among the classes with at least one video,
    then two distinct videos of it (the same video twice when it has only one).
    """
    by_class = {}
    for i, labs in enumerate(labels):
        for c in labs:
            by_class.setdefault(int(c), []).append(i)
    classes = sorted(by_class)
    if not classes:
        raise ValueError('ClassPairSampler: no video of the dataset has an action label')
    while True:
        videos = by_class[rng.choice(classes)]
        if len(videos) == 1:
            yield videos[0]
            yield videos[0]
        else:
            first, second = rng.sample(videos, 2)
            yield first
            yield second


@DATA_SAMPLERS.register_module()
class ClassPairSampler(Sampler):
    """Infinite sampler yielding pairs of videos that share a class (W-TALC's batches).

    Indices come two by two; with an even ``batch_size`` every batch is made
    of such pairs, which the co-activity similarity loss needs. Each rank
    draws its own stream (seeded by ``seed + rank``). Use with
    ``IterBasedTrainLoop``.

    Args:
        dataset: A wsal feature dataset (reads its records' labels, no features).
        seed: Random seed (None: one synchronised across ranks).
    """

    def __init__(self, dataset, seed: Optional[int] = None) -> None:
        self.dataset = dataset
        self.labels = _video_labels(dataset)
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else int(seed)

    def __iter__(self) -> Iterator[int]:
        yield from class_pairs(self.labels, random.Random(self.seed + self.rank))

    def __len__(self) -> int:
        return len(self.labels)

    def set_epoch(self, epoch: int) -> None:
        """No-op (the stream is infinite), for mmengine's loops."""
