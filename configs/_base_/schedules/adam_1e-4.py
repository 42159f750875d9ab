# Adam, lr 1e-4 (paper sec. 4.2), one video per iteration (the dataset
# config's train_dataloader uses batch_size=1 and an infinite sampler).
#
# Weight decay 5e-4 (L2, added to the gradient as in torch's Adam). The paper
# states none; 5e-4 with Adam at lr 1e-4 is what BaS-Net and UM use (and
# configs/_base_/methods/ for the head methods). Without it nothing bounds the
# weights: the bias-free classifier and the attention MLP keep growing as the
# cross-entropies fall (after 16000 iterations the attention MLP's first layer
# has a norm of 11.4-13.0 and the classifier's class columns 1.9-3.2; with it
# 2.6-4.2 and 1.2-2.4), and the T-CAM that the guide copies into λ sharpens.
# Measured on STPN, fg+guide, fg+guide+cluster and the full model over the
# independent data and four generator data sets (README, "Model settings";
# docs/ablation.md, "Weight decay"). weight_decay=0.0 restores the earlier runs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999), weight_decay=5e-4))

# The rate annealed to 0 over the run on a cosine (the paper states a constant
# rate; `param_scheduler = []` restores it). end='max_iters' follows the run
# length wsal is given (--iters, train_cfg.max_iters; wsal.apis.schedule).
# Why: the background-aware rows peak at 8000-16000 iterations and then lose
# mAP at a constant rate. Read on the training videos themselves, the guide's
# targets and λ lose their order of the frames while their video classification
# stays level; annealed, the test videos' classification holds as well, so a
# checkpoint chosen on held-out video labels would not find the decline (at a
# constant rate the classifier also overfits the training videos; docs/
# ablation.md, "Stronger weight decay on the background-aware rows"). Annealed, the late
# iterations move the weights less and less, and the final checkpoint is where
# the run settled instead of wherever that drift has got to. Shared by STPN and
# every Table 1 row, so they train on the same schedule; the single-head
# methods keep their papers' constant rate (configs/_base_/methods/). Adopted
# on an unseen generator by a rule written before its data existed: the full
# model 35.1 against 34.2 mAP@0.5 on the mean, no stream inverted, STPN + 5 in
# 2 of 3 seeds against 1 (README, "Model settings the configs use";
# docs/ablation.md, "A thirty-fifth independent generator").
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end='max_iters', eta_min=0.0)]

train_cfg = dict(type='IterBasedTrainLoop', max_iters=10000, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
