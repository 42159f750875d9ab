# Adam, lr 1e-4 (paper sec. 4.2), one video per iteration (the dataset
# config's train_dataloader uses batch_size=1 and an infinite sampler).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0))

param_scheduler = []  # constant learning rate

train_cfg = dict(type='IterBasedTrainLoop', max_iters=10000, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
