"""Synthetic two-stream features with the real temporal structure of THUMOS14.

The video durations, action instances and labels come from the packaged real
THUMOS14 annotations (``wsal/data/thumos14_gt.json``); only the features are
simulated. Features are built in a small latent space and mapped to each
stream by a fixed random linear map followed by a softplus, so outputs are
non-negative like average-pooled I3D features. The latent signal of segment t
of a video is a sum of documented components, each with a knob in
:class:`SyntheticConfig`:

* **background**: the video is cut into shots (exponential lengths, mean
  ``shot_seconds``); each shot shows one of the video's ``modes_per_video``
  background modes drawn from ``num_background_modes`` global modes
  (``background_strength``), plus temporally smooth Gaussian-filtered noise
  (``background_noise``, correlation ``smooth_seconds``) and a per-video
  offset (``video_offset``, camera/lighting);
* **scene context**: every segment of a video, background included, carries
  the scene vector of each class in the video (``context_rgb`` /
  ``context_flow``): a classifier can recognise the class from background
  alone, which is what makes attention hard to learn from video labels;
* **action appearance**: inside an instance, a class prototype that morphs
  from a start phase to an end phase (``action_phase_shift``), perturbed per
  instance (``instance_variation``), with strength ``action_rgb`` /
  ``action_flow``; related THUMOS14 classes (cricket, diving, throws, jumps,
  swings) share part of their prototype and scene (``class_similarity``);
* **actionness**: one class-agnostic "motion" direction active during every
  action, weak in RGB and strong in flow (``actionness_rgb`` /
  ``actionness_flow``);
* **anticipation**: the ``anticipation_seconds`` before an instance partly
  look like its start (ramping up to ``anticipation_strength`` of the
  appearance, without actionness);
* **drift** (off by default): a slow, continuous change of the background
  (``drift_strength``, correlation time ``drift_seconds``) on top of the
  shots;
* **hard negatives** (off by default): unannotated stretches of the
  background that show one of the video's classes without its motion cue
  (``lookalikes_per_minute``; replays, a player standing in the action's
  pose, a crowd imitating it), and bursts of the class-agnostic motion cue
  without an action (``motion_bursts_per_minute``; camera pans, crowd
  motion). Both land only on background segments;
* **heavy-tailed noise** (off by default): the white latent noise drawn
  from a Student-t with ``noise_dof`` degrees of freedom, scaled to the same
  variance, so a few frames are far off the video's path;
* **feature scale** multiplies every output (``feature_scale``; real I3D
  streams differ in norm), and **action coverage** rescales the background
  time between, before and after the real instances (``background_scale``:
  below 1 a larger share of each video is action, above 1 a smaller share;
  the instances keep their real lengths and order);
* **boundaries** are blurred like a 3D-CNN's receptive field
  (``boundary_blur_segments``); white per-segment latent noise
  (``frame_noise``) and per-channel observation noise (``observation_noise``)
  are added before the non-linearity.

Optional **micro-videos** (the paper's +MV set) are 6–15 s clips of one
class, 1–2 instances covering most of the clip, with backgrounds from a
separate pool of modes shifted by ``micro_domain_shift``; they are written
with video-level labels only (``micro_videos.json``).

The defaults aim at realism, not at making any method win. Output is
deterministic per seed and config (same bytes on the same machine): global
parameters derive from the seed, each video's randomness from (seed, video id).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter1d

from wsal.utils.io import atomic_directory
from wsal.utils.ranges import check_choice

__all__ = ['SyntheticConfig', 'PRESETS', 'THUMOS14_FAMILIES', 'load_thumos14_gt',
           'thumos14_classes', 'select_videos', 'generate_video_features',
           'iter_synthetic', 'generate_synthetic', 'make_synthetic']

PathLike = Union[str, os.PathLike]
_DATA = Path(__file__).resolve().parent.parent / 'data'

#: Groups of THUMOS14 classes that look and take place alike.
THUMOS14_FAMILIES: Tuple[Tuple[str, ...], ...] = (
    ('CricketBowling', 'CricketShot'),
    ('CliffDiving', 'Diving'),
    ('HammerThrow', 'JavelinThrow', 'Shotput', 'ThrowDiscus'),
    ('HighJump', 'LongJump', 'PoleVault'),
    ('BaseballPitch', 'GolfSwing', 'TennisSwing'),
    ('BasketballDunk', 'VolleyballSpiking'),
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of the synthetic THUMOS14-structured generator.

    Strengths are norms in the latent space (every random direction has unit
    norm); the stream maps multiply by ``N(0, 1)`` weights, so a strength of 1
    gives pre-activations of standard deviation about 1 per channel.

    Attributes:
        num_videos: Videos per subset, e.g. ``{'validation': 40, 'test': 20}``,
            chosen class-stratified; None (or a missing subset) keeps all.
        max_duration: Only videos at most this long (seconds) are eligible.
        fps: Feature-extraction fps written per video in gt.json.
        stride: Frames per feature segment (T = floor(duration * fps / stride)).
        rgb_dim, flow_dim: Channels per stream.
        latent_dim: Size of the latent space the components live in.
        action_rgb, action_flow: Class appearance strength inside instances.
        action_phase_shift: 0: one prototype per class; 1: start and end
            phases independent.
        instance_variation: Relative per-instance perturbation of the prototype.
        class_similarity: Share (0..1) of prototype and scene common to a
            THUMOS14 family (:data:`THUMOS14_FAMILIES`).
        context_rgb, context_flow: Class scene signal on all segments of the
            class's videos.
        actionness_rgb, actionness_flow: Class-agnostic action cue.
        anticipation_seconds, anticipation_strength: Pre-action look-alike.
        drift_strength: Norm of a continuous background drift (stationary
            Ornstein-Uhlenbeck process per latent dimension; panning cameras,
            changing light, a crowd filling up). 0 (default) draws none.
        drift_seconds: Its correlation time.
        lookalikes_per_minute: Expected hard negatives per minute of
            background: stretches outside every instance that show one of the
            video's classes (start-to-end morph, per-event variation) at
            ``lookalike_strength`` of an instance's appearance, without
            actionness. 0 (default) draws none.
        lookalike_seconds: Mean length of a look-alike (uniform 0.5x-1.5x).
        lookalike_strength: Look-alike appearance relative to an instance.
        motion_bursts_per_minute: Expected bursts of the actionness cue per
            minute of background (class-agnostic motion without an action).
            0 (default) draws none.
        motion_burst_seconds: Mean length of a burst (uniform 0.5x-1.5x).
        motion_burst_strength: Burst cue relative to an action's.
        noise_dof: 0 (default): Gaussian ``frame_noise``; above 2: Student-t
            with that many degrees of freedom, scaled to the same variance.
        action_rank: Rank of each class's appearance. 1 (default): one
            prototype per phase plus ``instance_variation``; above 1: a
            subspace of that rank per class (its extra directions shared
            within a family as much as the prototype is), and each instance
            or look-alike shows a random non-negative, unit-norm combination
            of it, so instances of a class share less than one direction.
        cue_swap: Probability per video that the two streams exchange their
            ``action_*`` and ``actionness_*`` strengths (which stream carries
            the action differs between videos). 0 (default) draws nothing.
        cut_flow: Strength of the actionness cue added to the flow stream
            on the segment of every shot cut (the apparent motion of a cut;
            an action adds ``actionness_flow``). 0 (default): none.
        latent_norm: Above 0: every segment's latent is rescaled to this norm
            before the stream maps, so a feature's norm says nothing about
            actions (with the defaults, actions add latent energy and the row
            norm alone ranks frames well). 0 (default): no rescaling.
        num_background_modes, modes_per_video, shot_seconds,
        background_strength: Background shots.
        background_noise, smooth_seconds: Temporally smooth background noise.
            It is scaled to ``background_noise`` within each video, so a
            ``smooth_seconds`` near a video's length turns it into a large
            per-video offset; ``drift_strength`` is the knob for slow change.
        video_offset: Per-video constant latent offset.
        frame_noise: White latent noise per segment.
        observation_noise: Per-channel noise before the non-linearity.
        boundary_blur_segments: Gaussian sigma (segments) blurring instance
            and shot boundaries.
        bias: Mean pre-activation offset (more negative: sparser output).
        activation: ``'softplus'`` or ``'relu'``.
        feature_scale: Factor on every output feature (stream norms).
        feature_scale_flow: Extra factor on the flow stream only.
        background_scale: Factor on the background time of every video
            (gaps before, between and after instances; overlapping instances
            keep their overlap): action coverage goes up below 1, down above 1.
        num_micro_videos: Micro-videos (+MV) to generate, class-balanced.
        micro_duration: (min, max) seconds of a micro-video.
        micro_foreground: (min, max) fraction of a micro-video inside actions.
        micro_domain_shift: Norm of the constant offset of micro-videos.
    """

    num_videos: Optional[Mapping[str, int]] = None
    max_duration: Optional[float] = None
    fps: float = 25.0
    stride: int = 16
    rgb_dim: int = 1024
    flow_dim: int = 1024
    latent_dim: int = 64
    action_rgb: float = 1.0
    action_flow: float = 1.0
    action_phase_shift: float = 0.5
    instance_variation: float = 0.35
    class_similarity: float = 0.35
    context_rgb: float = 0.6
    context_flow: float = 0.2
    actionness_rgb: float = 0.3
    actionness_flow: float = 0.9
    anticipation_seconds: float = 2.0
    anticipation_strength: float = 0.5
    drift_strength: float = 0.0
    drift_seconds: float = 30.0
    lookalikes_per_minute: float = 0.0
    lookalike_seconds: float = 3.0
    lookalike_strength: float = 0.6
    motion_bursts_per_minute: float = 0.0
    motion_burst_seconds: float = 3.0
    motion_burst_strength: float = 1.0
    noise_dof: float = 0.0
    action_rank: int = 1
    cue_swap: float = 0.0
    cut_flow: float = 0.0
    latent_norm: float = 0.0
    num_background_modes: int = 32
    modes_per_video: int = 3
    shot_seconds: float = 12.0
    background_strength: float = 1.0
    background_noise: float = 0.5
    smooth_seconds: float = 2.0
    video_offset: float = 0.3
    frame_noise: float = 0.25
    observation_noise: float = 0.3
    boundary_blur_segments: float = 0.75
    bias: float = -1.0
    activation: str = 'softplus'
    feature_scale: float = 1.0
    feature_scale_flow: float = 1.0
    background_scale: float = 1.0
    num_micro_videos: int = 0
    micro_duration: Tuple[float, float] = (6.0, 15.0)
    micro_foreground: Tuple[float, float] = (0.5, 0.9)
    micro_domain_shift: float = 0.5

    def __post_init__(self) -> None:
        for name in ('fps', 'rgb_dim', 'flow_dim', 'latent_dim', 'stride',
                     'num_background_modes', 'modes_per_video', 'shot_seconds',
                     'smooth_seconds', 'feature_scale', 'feature_scale_flow',
                     'background_scale', 'drift_seconds', 'lookalike_seconds',
                     'motion_burst_seconds', 'action_rank'):
            if not getattr(self, name) > 0:
                raise ValueError(f'SyntheticConfig.{name} must be > 0, got {getattr(self, name)!r}')
        for name in ('drift_strength', 'lookalikes_per_minute', 'lookalike_strength',
                     'motion_bursts_per_minute', 'motion_burst_strength', 'cut_flow',
                     'latent_norm'):
            if not getattr(self, name) >= 0:
                raise ValueError(f'SyntheticConfig.{name} must be >= 0, got {getattr(self, name)!r}')
        if not (self.noise_dof == 0 or self.noise_dof > 2):
            raise ValueError('SyntheticConfig.noise_dof must be 0 (Gaussian) or > 2 (Student-t '
                             f'with a finite variance), got {self.noise_dof!r}')
        if int(self.action_rank) != self.action_rank:
            raise ValueError(f'SyntheticConfig.action_rank must be an integer, got {self.action_rank!r}')
        if not 0 <= self.cue_swap <= 1:
            raise ValueError(f'SyntheticConfig.cue_swap must be in [0, 1], got {self.cue_swap!r}')
        check_choice(self.activation, owner='SyntheticConfig', key='activation',
                     choices=('softplus', 'relu'))
        if not 0 <= self.class_similarity <= 1 or not 0 <= self.action_phase_shift <= 1:
            raise ValueError('class_similarity and action_phase_shift must be in [0, 1]')
        if self.num_micro_videos < 0:
            raise ValueError('num_micro_videos must be >= 0')
        lo, hi = self.micro_duration
        if not 0 < lo <= hi:
            raise ValueError(f'micro_duration must be 0 < min <= max, got {self.micro_duration}')
        lo, hi = self.micro_foreground
        if not 0 < lo <= hi <= 1:
            raise ValueError(f'micro_foreground must be 0 < min <= max <= 1, got {self.micro_foreground}')

    @property
    def seconds_per_segment(self) -> float:
        return self.stride / self.fps


#: tiny: unit tests (seconds); small: the demo (~40 + ~20 videos, 1024 dims);
#: full: every one of the 412 videos, 1024 dims, 915 micro-videos as in the paper.
PRESETS: Dict[str, Dict[str, object]] = {
    'tiny': dict(num_videos={'validation': 8, 'test': 4}, max_duration=90.0,
                 rgb_dim=32, flow_dim=32, latent_dim=16, num_background_modes=8,
                 num_micro_videos=8),
    'small': dict(num_videos={'validation': 40, 'test': 20}, max_duration=360.0,
                  num_micro_videos=200),
    'full': dict(num_videos=None, num_micro_videos=915),
}


def load_thumos14_gt() -> dict:
    """The packaged real THUMOS14 annotations (ActivityNet form)."""
    with open(_DATA / 'thumos14_gt.json', encoding='utf-8') as fh:
        return json.load(fh)


def thumos14_classes(gt: Optional[dict] = None) -> Tuple[str, ...]:
    """The 20 THUMOS14 class names, sorted."""
    gt = gt or load_thumos14_gt()
    return tuple(sorted({a['label'] for v in gt['database'].values() for a in v['annotations']}))


def _primary_label(info: dict) -> str:
    counts: Dict[str, int] = {}
    for a in info['annotations']:
        counts[a['label']] = counts.get(a['label'], 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def select_videos(gt: dict, cfg: SyntheticConfig, seed: int) -> List[str]:
    """Class-stratified, seeded choice of videos (file order kept).

    Classes are visited in one seeded order shared by all subsets, so a small
    test subset covers classes that its training subset has.
    """
    db = gt['database']
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    classes = list(thumos14_classes(gt))
    order = [classes[i] for i in rng.permutation(len(classes))]
    chosen: set = set()
    subsets = sorted({v['subset'] for v in db.values()})
    for subset in subsets:
        eligible = [vid for vid, v in db.items() if v['subset'] == subset and v['annotations']
                    and (cfg.max_duration is None or v['duration'] <= cfg.max_duration)]
        want = None if cfg.num_videos is None else cfg.num_videos.get(subset)
        if want is None or want >= len(eligible):
            chosen.update(eligible)
            continue
        pools = {c: [] for c in order}
        for vid in eligible:
            pools[_primary_label(db[vid])].append(vid)
        for c in order:
            pools[c] = [pools[c][i] for i in rng.permutation(len(pools[c]))]
        picked: List[str] = []
        while len(picked) < want:
            progressed = False
            for c in order:
                if len(picked) >= want:
                    break
                if pools[c]:
                    picked.append(pools[c].pop())
                    progressed = True
            if not progressed:
                break
        chosen.update(picked)
    return [vid for vid in db if vid in chosen]


class _World:
    """Global, seed-derived parameters: prototypes, modes, stream maps."""

    def __init__(self, cfg: SyntheticConfig, classes: Sequence[str], seed: int) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        k = cfg.latent_dim
        unit = lambda *shape: (rng.standard_normal((*shape, k)) / math.sqrt(k))  # noqa: E731
        n = len(classes)
        fam_of = {}
        for f, fam in enumerate(THUMOS14_FAMILIES):
            for c in fam:
                fam_of[c] = f
        fam_proto, fam_scene = unit(len(THUMOS14_FAMILIES)), unit(len(THUMOS14_FAMILIES))
        s = cfg.class_similarity

        def mix(own, fam_vecs):
            out = own.copy()
            for i, c in enumerate(classes):
                if c in fam_of:
                    out[i] = math.sqrt(1 - s) * own[i] + math.sqrt(s) * fam_vecs[fam_of[c]]
            return out
        start = mix(unit(n), fam_proto)
        end_own = unit(n)
        p = cfg.action_phase_shift
        self.proto_start = start
        self.proto_end = math.sqrt(1 - p) * start + math.sqrt(p) * end_own
        self.scene = mix(unit(n), fam_scene)
        self.motion = unit()
        self.modes = unit(cfg.num_background_modes)
        self.micro_modes = unit(cfg.num_background_modes)
        self.micro_offset = unit() * cfg.micro_domain_shift
        self.weights = {
            'rgb': rng.standard_normal((k, cfg.rgb_dim)).astype(np.float32),
            'flow': rng.standard_normal((k, cfg.flow_dim)).astype(np.float32)}
        self.biases = {
            'rgb': (cfg.bias + 0.5 * rng.standard_normal(cfg.rgb_dim)).astype(np.float32),
            'flow': (cfg.bias + 0.5 * rng.standard_normal(cfg.flow_dim)).astype(np.float32)}
        self.class_index = {c: i for i, c in enumerate(classes)}
        self.sub_start = self.sub_end = None
        if cfg.action_rank > 1:   # own stream, so rank 1 draws exactly as before
            sub = np.random.default_rng(np.random.SeedSequence([seed, 2]))
            r = int(cfg.action_rank) - 1
            extra = lambda *shape: sub.standard_normal((*shape, k)) / math.sqrt(k)  # noqa: E731
            fam_extra = extra(r, len(THUMOS14_FAMILIES))
            more = np.stack([mix(extra(n), fam_extra[j]) for j in range(r)], 1)
            self.sub_start = np.concatenate([start[:, None], more], 1)
            self.sub_end = np.concatenate(
                [self.proto_end[:, None], math.sqrt(1 - p) * more + math.sqrt(p) * extra(n, r)], 1)

    def phases(self, cls: np.ndarray, rng: np.random.Generator, variation: float
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Start- and end-phase appearance of N events (instances or look-alikes).

        Args:
            cls: Class index of each event, ``[N]``.
            rng: The video's generator (draws the subspace mix and the variation).
            variation: Norm of the per-event perturbation (``instance_variation``).

        Returns:
            tuple: ``a0 [N, k]``, ``a1 [N, k]`` latent appearance at the start and end.
        """
        n, k = len(cls), self.proto_start.shape[1]
        if self.sub_start is None:
            base0, base1 = self.proto_start[cls], self.proto_end[cls]
        else:
            coef = rng.exponential(size=(n, self.sub_start.shape[1]))
            coef /= np.linalg.norm(coef, axis=1, keepdims=True)
            base0 = np.einsum('nr,nrk->nk', coef, self.sub_start[cls])
            base1 = np.einsum('nr,nrk->nk', coef, self.sub_end[cls])
        a0 = base0 + variation * rng.standard_normal((n, k)) / math.sqrt(k)
        a1 = base1 + variation * rng.standard_normal((n, k)) / math.sqrt(k)
        return a0, a1


def rescale_background(duration: float, segments: Sequence[Tuple[float, float]],
                       factor: float) -> Tuple[float, List[Tuple[float, float]]]:
    """Stretch the background time of a video by ``factor``, keeping action time.

    Time covered by at least one instance keeps its length; every other stretch
    of time (before the first instance, between instances, after the last) is
    multiplied by ``factor``. Returns the new duration and the new
    ``(start, end)`` of each segment, in input order.

    Args:
        duration: Video length in seconds.
        segments: ``(start, end)`` seconds of each instance.
        factor: Background stretch (> 0; 1 leaves everything unchanged).
    """
    if factor == 1.0 or not segments:
        return duration, [(float(s), float(e)) for s, e in segments]
    segs = [(max(float(s), 0.0), max(float(e), 0.0)) for s, e in segments]
    # covered intervals (union), in order; annotations may run past the video's end
    union: List[List[float]] = []
    for s, e in sorted(segs):
        if union and s <= union[-1][1]:
            union[-1][1] = max(union[-1][1], e)
        else:
            union.append([s, e])
    knots_old = [0.0]
    knots_new = [0.0]
    for s, e in union:
        knots_new.append(knots_new[-1] + (s - knots_old[-1]) * factor)
        knots_old.append(s)
        knots_new.append(knots_new[-1] + (e - s))
        knots_old.append(e)
    end = max(duration, knots_old[-1])
    knots_new.append(knots_new[-1] + (end - knots_old[-1]) * factor)
    knots_old.append(end)

    def remap(t: float) -> float:
        return float(np.interp(t, knots_old, knots_new))
    return remap(duration), [(round(remap(s), 3), round(remap(e), 3)) for s, e in segs]


def _video_timeline(info: dict, cfg: SyntheticConfig) -> Tuple[float, List[Tuple[float, float, str]]]:
    """Duration and ``(start, end, label)`` instances after ``background_scale``."""
    labels = [a['label'] for a in info['annotations']]
    if cfg.background_scale == 1.0:
        return info['duration'], [(a['segment'][0], a['segment'][1], c)
                                  for a, c in zip(info['annotations'], labels)]
    duration, segs = rescale_background(float(info['duration']),
                                        [tuple(a['segment']) for a in info['annotations']],
                                        cfg.background_scale)
    return round(duration, 3), [(s, e, c) for (s, e), c in zip(segs, labels)]


def _video_rng(seed: int, video_id: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 2, zlib.crc32(video_id.encode())]))


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return gaussian_filter1d(x, sigma, axis=0, mode='nearest') if sigma > 0 else x


def _events(rng: np.random.Generator, free: np.ndarray, per_minute: float, seconds: float,
            sps: float) -> List[Tuple[float, float]]:
    """``(centre, length)`` in segments of Poisson events on the free segments.

    The count is Poisson with mean ``per_minute`` per minute of free time
    (``free`` > 0.5); centres are free segments, lengths uniform in 0.5-1.5x
    ``seconds``.
    """
    where = np.flatnonzero(free > 0.5)
    if not len(where):
        return []
    count = int(rng.poisson(per_minute * len(where) * sps / 60.0))
    centres = where[rng.integers(0, len(where), size=count)] + 0.5
    lengths = np.maximum(rng.uniform(0.5, 1.5, size=count) * seconds / sps, 1.0)
    return list(zip(centres.tolist(), lengths.tolist()))


def _drift(rng: np.random.Generator, t_len: int, k: int, a: float) -> np.ndarray:
    """``[t_len, k]`` stationary AR(1) noise of unit variance, correlation ``a`` per step."""
    eps = rng.standard_normal((t_len, k))
    out = np.empty((t_len, k))
    out[0] = eps[0]
    b = math.sqrt(1.0 - a * a)
    for t in range(1, t_len):
        out[t] = a * out[t - 1] + b * eps[t]
    return out


def _box(t_len: int, centre: float, length: float) -> np.ndarray:
    """Overlap (0..1) of each segment with ``[centre - length/2, centre + length/2)``."""
    t = np.arange(t_len, dtype=np.float64)
    lo, hi = centre - length / 2, centre + length / 2
    return (np.minimum(t + 1, hi) - np.maximum(t, lo)).clip(0, 1)


def generate_video_features(cfg: SyntheticConfig, world: _World, rng: np.random.Generator, *,
                            duration: float, instances: Sequence[Tuple[float, float, str]],
                            video_labels: Sequence[str], micro: bool = False
                            ) -> Dict[str, np.ndarray]:
    """Features of one video: ``{'rgb': float32 [T, rgb_dim], 'flow': [T, flow_dim]}``."""
    sps = cfg.seconds_per_segment
    t_len = max(2, int(math.floor(duration * cfg.fps / cfg.stride + 1e-6)))
    k = cfg.latent_dim
    t0 = np.arange(t_len) * sps
    centre = t0 + sps / 2
    unit = lambda *shape: rng.standard_normal((*shape, k)) / math.sqrt(k)  # noqa: E731

    # background shots
    modes = world.micro_modes if micro else world.modes
    pool = rng.choice(len(modes), size=min(cfg.modes_per_video, len(modes)), replace=False)
    pos = 0.0
    bounds = []
    while pos < t_len * sps:
        pos += rng.exponential(cfg.shot_seconds)
        bounds.append(pos)
    shot_of = np.searchsorted(np.asarray(bounds), centre, side='right')
    shot_mode = pool[rng.integers(0, len(pool), size=len(bounds) + 1)]
    bg = _blur(modes[shot_mode[shot_of]], cfg.boundary_blur_segments) * cfg.background_strength
    smooth = _blur(rng.standard_normal((t_len, k)), cfg.smooth_seconds / sps)
    smooth /= smooth.std(axis=0, keepdims=True) + 1e-8
    bg = bg + smooth * (cfg.background_noise / math.sqrt(k)) + unit() * cfg.video_offset
    if micro:
        bg = bg + world.micro_offset

    # action instances: membership [T, N] by overlap, blurred
    n = len(instances)
    appearance = np.zeros((t_len, k))
    active = np.zeros(t_len)
    if n:
        seg = np.asarray([(s, e) for s, e, _ in instances], np.float64)
        cls = np.asarray([world.class_index[c] for _, _, c in instances])
        overlap = (np.minimum(seg[None, :, 1], t0[:, None] + sps)
                   - np.maximum(seg[None, :, 0], t0[:, None])).clip(min=0) / sps
        member = _blur(overlap, cfg.boundary_blur_segments)
        rel = ((centre[:, None] - seg[None, :, 0]) / np.maximum(seg[None, :, 1] - seg[None, :, 0], 1e-6)
               ).clip(0, 1)
        if cfg.anticipation_seconds > 0:
            before = seg[None, :, 0] - centre[:, None]
            ramp = (1 - before / cfg.anticipation_seconds).clip(0, 1) * (before > 0)
            ant = ramp * cfg.anticipation_strength
        else:
            ant = np.zeros_like(member)
        a0, a1 = world.phases(cls, rng, cfg.instance_variation)
        appearance = (member * (1 - rel) + ant) @ a0 + (member * rel) @ a1
        active = member.sum(1).clip(0, 1)

    context = np.zeros(k)
    for c in set(video_labels):
        context = context + world.scene[world.class_index[c]]
    if cfg.noise_dof:
        white = rng.standard_t(cfg.noise_dof, (t_len, k)) * math.sqrt((cfg.noise_dof - 2) / cfg.noise_dof)
    else:
        white = rng.standard_normal((t_len, k))
    white = white * (cfg.frame_noise / math.sqrt(k))

    if cfg.drift_strength > 0:
        bg = bg + _drift(rng, t_len, k, math.exp(-sps / cfg.drift_seconds)) * (
            cfg.drift_strength / math.sqrt(k))

    # hard negatives, on background segments only (nothing is drawn when off)
    free = 1.0 - active
    if n and cfg.anticipation_strength > 0:   # nor in the run-up to an instance
        free = free * (1.0 - (ant.sum(1) / cfg.anticipation_strength).clip(0, 1))
    bursts = np.zeros(t_len)
    if cfg.lookalikes_per_minute > 0 and video_labels:
        labels = sorted(set(video_labels))
        for centre_t, length in _events(rng, free, cfg.lookalikes_per_minute,
                                        cfg.lookalike_seconds, sps):
            c = world.class_index[labels[int(rng.integers(len(labels)))]]
            box = _box(t_len, centre_t, length)
            mask = _blur(box, cfg.boundary_blur_segments) * free * cfg.lookalike_strength
            phase = ((np.arange(t_len) - (centre_t - length / 2)) / length).clip(0, 1)
            b0, b1 = world.phases(np.asarray([c]), rng, cfg.instance_variation)
            appearance = appearance + np.outer(mask * (1 - phase), b0[0]) + np.outer(mask * phase, b1[0])
    if cfg.motion_bursts_per_minute > 0:
        for centre_t, length in _events(rng, free, cfg.motion_bursts_per_minute,
                                        cfg.motion_burst_seconds, sps):
            bursts = bursts + _blur(_box(t_len, centre_t, length), cfg.boundary_blur_segments) * free
        bursts = bursts.clip(0, 1) * cfg.motion_burst_strength

    out = {}
    strengths = {'rgb': (cfg.action_rgb, cfg.context_rgb, cfg.actionness_rgb),
                 'flow': (cfg.action_flow, cfg.context_flow, cfg.actionness_flow)}
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2 ** 62)))
    if cfg.cue_swap > 0 and rng.random() < cfg.cue_swap:
        (a_rgb, c_rgb, m_rgb), (a_flow, c_flow, m_flow) = strengths['rgb'], strengths['flow']
        strengths = {'rgb': (a_flow, c_rgb, m_flow), 'flow': (a_rgb, c_flow, m_rgb)}
    cuts = np.zeros(t_len)
    if cfg.cut_flow > 0:
        inside = np.asarray([b for b in bounds if b < t_len * sps])
        cuts[(inside // sps).astype(int)] = cfg.cut_flow
    for stream in ('rgb', 'flow'):
        s_act, s_ctx, s_mot = strengths[stream]
        motion = s_mot * (active + bursts) + (cuts if stream == 'flow' else 0.0)
        z = (bg + white + s_ctx * context[None] + s_act * appearance
             + motion[:, None] * world.motion[None])
        if cfg.latent_norm > 0:
            z = z * (cfg.latent_norm / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-8))
        z = z.astype(np.float32)
        w = torch.from_numpy(world.weights[stream])
        h = torch.randn((t_len, w.shape[1]), generator=gen).mul_(cfg.observation_noise)
        h.addmm_(torch.from_numpy(z), w).add_(torch.from_numpy(world.biases[stream]))
        x = F.softplus(h) if cfg.activation == 'softplus' else h.clamp_(min=0)
        scale = cfg.feature_scale * (cfg.feature_scale_flow if stream == 'flow' else 1.0)
        if scale != 1.0:
            x = x.mul_(scale)
        out[stream] = x.numpy()
    return out


def _micro_plan(cfg: SyntheticConfig, classes: Sequence[str], seed: int
                ) -> List[Tuple[str, str, float, List[Tuple[float, float]]]]:
    """(video_id, class, duration, instances) of each micro-video, class-balanced."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    plan = []
    for i in range(cfg.num_micro_videos):
        c = classes[i % len(classes)]
        dur = float(np.round(rng.uniform(*cfg.micro_duration), 3))
        fg = rng.uniform(*cfg.micro_foreground) * dur
        n_inst = 1 if rng.random() < 0.6 else 2
        lengths = [fg] if n_inst == 1 else list(fg * np.diff(np.sort([0, rng.uniform(0.3, 0.7), 1])))
        free = dur - fg
        gaps = rng.dirichlet(np.ones(n_inst + 1)) * free
        insts, pos = [], 0.0
        for j in range(n_inst):
            pos += gaps[j]
            insts.append((round(pos, 3), round(pos + lengths[j], 3)))
            pos += lengths[j]
        plan.append((f'micro_{i:05d}_{c}', c, dur, insts))
    return plan


def _resolve(preset: Optional[str], overrides: Mapping[str, object]) -> SyntheticConfig:
    base: Dict[str, object] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown synthetic preset '{preset}'; choose from {sorted(PRESETS)}")
        base.update(PRESETS[preset])
    names = {f.name for f in dataclasses.fields(SyntheticConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f'unknown synthetic option(s) {unknown}; known: {sorted(names)}')
    base.update(overrides)
    for key in ('micro_duration', 'micro_foreground'):
        if key in base:
            base[key] = tuple(base[key])  # type: ignore[arg-type]
    return SyntheticConfig(**base)  # type: ignore[arg-type]


def iter_synthetic(cfg: SyntheticConfig, seed: int = 0
                   ) -> Iterator[Tuple[str, str, Dict[str, np.ndarray]]]:
    """Yield ``(kind, video_id, features)``; kind is ``'gt'`` or ``'micro'``."""
    gt = load_thumos14_gt()
    classes = thumos14_classes(gt)
    world = _World(cfg, classes, seed)
    for vid in select_videos(gt, cfg, seed):
        info = gt['database'][vid]
        duration, insts = _video_timeline(info, cfg)
        feats = generate_video_features(cfg, world, _video_rng(seed, vid), duration=duration,
                                        instances=insts, video_labels=[i[2] for i in insts])
        yield 'gt', vid, feats
    for vid, c, dur, insts in _micro_plan(cfg, classes, seed):
        feats = generate_video_features(cfg, world, _video_rng(seed, vid), duration=dur,
                                        instances=[(s, e, c) for s, e in insts],
                                        video_labels=[c], micro=True)
        yield 'micro', vid, feats


def _annotation_files(cfg: SyntheticConfig, seed: int, preset: Optional[str]
                      ) -> Tuple[dict, Optional[dict], dict]:
    gt = load_thumos14_gt()
    classes = list(thumos14_classes(gt))
    db = {}
    for vid in select_videos(gt, cfg, seed):
        info = gt['database'][vid]
        duration, insts = _video_timeline(info, cfg)
        db[vid] = {'subset': info['subset'], 'duration': duration, 'fps': cfg.fps,
                   'annotations': [{'segment': [s, e], 'label': c} for s, e, c in insts]}
    gt_out = {'version': 'wsal-synthetic-thumos14', 'classes': classes, 'database': db}
    micro = None
    if cfg.num_micro_videos:
        micro = {'version': 'wsal-synthetic-micro-videos', 'classes': classes, 'database': {
            vid: {'labels': [c], 'duration': dur, 'fps': cfg.fps}
            for vid, c, dur, _ in _micro_plan(cfg, classes, seed)}}
    cfg_dict = dataclasses.asdict(cfg)
    meta = {'generator': 'wsal.datasets.synthetic', 'preset': preset, 'seed': seed,
            'config': cfg_dict,
            'source': 'temporal structure of the real THUMOS14 annotations (wsal/data/PROVENANCE.md)'}
    return gt_out, micro, meta


@dataclass
class SyntheticData:
    """An in-memory synthetic dataset (see :func:`generate_synthetic`)."""

    gt: dict
    micro: Optional[dict]
    features: Dict[str, Dict[str, np.ndarray]] = field(default_factory=dict)
    config: Optional[SyntheticConfig] = None


def generate_synthetic(preset: Optional[str] = 'tiny', seed: int = 0, **overrides) -> SyntheticData:
    """Generate in memory: annotations plus ``features[video_id][stream]``.

    Args:
        preset: ``'tiny'``, ``'small'``, ``'full'`` or None (plain defaults).
        seed: Random seed; the same seed and options give identical arrays.
        **overrides: :class:`SyntheticConfig` fields.
    """
    cfg = _resolve(preset, overrides)
    gt, micro, _ = _annotation_files(cfg, seed, preset)
    data = SyntheticData(gt=gt, micro=micro, config=cfg)
    for _, vid, feats in iter_synthetic(cfg, seed):
        data.features[vid] = feats
    return data


def _dump_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=False, allow_nan=False) + '\n',
                    encoding='utf-8')


def make_synthetic(out_dir: PathLike, preset: Optional[str] = 'tiny', seed: int = 0, *,
                   overwrite: bool = False, **overrides) -> Path:
    """Write a synthetic dataset in the canonical layout and return its path.

    ::

        OUT/gt.json                  real THUMOS14 structure (subsets validation/test, fps per video)
        OUT/features/{rgb,flow}/<video_id>.npy
        OUT/micro_videos.json        weak labels of the micro-videos (when any)
        OUT/synthetic.json           generator, preset, seed and every knob

    Everything is written into a temporary sibling folder that is renamed
    onto ``OUT`` at the end, so an interrupted run leaves no partial dataset.

    Args:
        out_dir: Destination folder; must not exist (or be empty) unless
            ``overwrite``.
        preset: ``'tiny'`` (tests), ``'small'`` (demo), ``'full'`` or None.
        seed: Random seed.
        overwrite: Replace an existing ``out_dir``.
        **overrides: :class:`SyntheticConfig` fields.
    """
    out = Path(out_dir).expanduser().resolve()
    cfg = _resolve(preset, overrides)
    if out.exists():
        if not out.is_dir():
            raise ValueError(f'{out} exists and is not a folder')
        if any(out.iterdir()) and not overwrite:
            raise ValueError(f'{out} already exists and is not empty (use overwrite=True / --overwrite)')
    out.parent.mkdir(parents=True, exist_ok=True)
    gt, micro, meta = _annotation_files(cfg, seed, preset)
    with atomic_directory(out) as tmp:
        for stream in ('rgb', 'flow'):
            (tmp / 'features' / stream).mkdir(parents=True)
        for _, vid, feats in iter_synthetic(cfg, seed):
            for stream, arr in feats.items():
                np.save(tmp / 'features' / stream / f'{vid}.npy', arr)
        if micro is not None:
            _dump_json(tmp / 'micro_videos.json', micro)
        _dump_json(tmp / 'synthetic.json', meta)
        _dump_json(tmp / 'gt.json', gt)
    return out
