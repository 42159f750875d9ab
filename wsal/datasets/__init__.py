"""wsal.datasets: feature datasets, annotation I/O, collate and synthetic data.

Registered in ``DATASETS``: ``WSALFeatureDataset`` (canonical layout),
``WeakLabelFeatureDataset`` (micro-videos, video-level labels only) and
``STPNFeatureDataset`` (the STPN / W-TALC ``.npy`` layout). Registered in
``FUNCTIONS``: ``wsal_collate`` and ``wsal_sampled_collate`` (fixed-length
sampling); in mmengine's ``DATA_SAMPLERS`` (scope ``wsal``): ``ClassPairSampler``.
"""
from .annotations import VideoRecord, load_activitynet_gt, load_video_list, load_weak_labels
from .base import FeatureDatasetBase
from .collate import wsal_collate
from .feature_dataset import WSALFeatureDataset
from .resample import resample_features
from .samplers import ClassPairSampler, class_pairs
from .sampling import bin_indices, crop_indices, sample_indices, wsal_sampled_collate
from .stpn import STPNFeatureDataset, convert_stpn, load_stpn_layout
from .weak_label_dataset import WeakLabelFeatureDataset

__all__ = [
    'VideoRecord', 'load_activitynet_gt', 'load_video_list', 'load_weak_labels',
    'FeatureDatasetBase', 'wsal_collate', 'WSALFeatureDataset', 'WeakLabelFeatureDataset',
    'resample_features', 'STPNFeatureDataset', 'convert_stpn', 'load_stpn_layout',
    'ClassPairSampler', 'class_pairs', 'wsal_sampled_collate', 'sample_indices', 'crop_indices',
    'bin_indices',
]
