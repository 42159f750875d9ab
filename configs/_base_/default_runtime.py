# Runtime defaults shared by every wsal config: scope, hooks, logging,
# checkpoints, environment and randomness. Method configs override fields.
default_scope = 'wsal'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # one line every `interval` iterations with each loss term (loss_fg, loss_bg, ...)
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Checkpoints at fixed iterations; the final one is the model to report.
    # Validation runs on the test split, for learning curves only: no
    # checkpoint is chosen by it. `wsal train --select-on-test` (or
    # save_best='detection/mAP@0.5', rule='greater') also keeps the best one by
    # test mAP, the protocol of several published methods; `wsal test` labels
    # its numbers 'test-selected'.
    # AtomicCheckpointHook: mmengine's CheckpointHook whose files are written to a
    # temporary name, fsync'ed and renamed, so a killed run leaves readable checkpoints
    checkpoint=dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=500, save_last=True,
        save_best=None, max_keep_ckpts=2,
        save_optimizer=True, save_param_scheduler=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

custom_hooks = [
    # fits the model's input_norm statistics (if it has one) on the training split
    # before the first iteration; a resumed run keeps its checkpoint's
    dict(type='InputStatisticsHook'),
    # logs attention health and writes a Figure-4-style PNG per validation
    dict(type='LocalizationHealthHook', num_videos=2, out_dir='vis'),
    # RNG states in checkpoints: a resumed run continues exactly (dropout included)
    dict(type='RNGStateHook'),
    # the model's loss ramps (`loss_warmup`) follow the Runner's iteration
    dict(type='TrainProgressHook'),
    # one progress line (iteration, loss, it/s, ETA) on stderr; `-q` removes it
    dict(type='ProgressHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; `wsal train` switches to gloo on CPU-only machines. Without
    # `timeout` (seconds) wsal uses WSAL_DIST_TIMEOUT or 600 (wsal.engine.dist_timeout)
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(type='LogProcessor', by_epoch=False, window_size=50)
log_level = 'INFO'
# What `wsal train/test` show on the console (the log file in the work dir keeps
# `log_level`: environment, config, hook order, every logged iteration);
# `--log-level` / `-q` override it.
console_log_level = 'WARNING'
load_from = None
resume = False

# Same seed -> same weights and metrics on CPU. `deterministic=True` also
# forces deterministic CUDA kernels (slower; set CUBLAS_WORKSPACE_CONFIG).
randomness = dict(seed=0, deterministic=False, diff_rank_seed=False)
