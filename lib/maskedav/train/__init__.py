"""Training: the generic loop, optimiser pieces and data-parallel helpers.

Typical use in a notebook::

    from maskedav.train import TrainConfig, train
    cfg = TrainConfig.from_profile(profile.train, checkpoint_path=str(ckpt), seed=seed)
    result = train(method, batch_fn, cfg, device=device, log_dir=run_dir, eval_fn=heldout_loss)
"""
from .distributed import (DistInfo, all_gather_cat, all_reduce_max, all_reduce_mean, all_reduce_sum,
                          barrier, cleanup, get_rank, get_world_size, init_distributed, is_distributed,
                          is_main, reduce_dict, shard_batch, unwrap, wrap_ddp)
from .engine import (MetricLog, TrainConfig, TrainResult, as_batch_fn, autocast, load_checkpoint,
                     rng_state, save_checkpoint, seed_everything, set_rng_state, to_device, train)
from .optim import (NO_WEIGHT_DECAY, cosine_lr, layer_decay_param_groups, make_optimizer,
                    param_groups, set_lr, vit_layer_ids)

__all__ = [
    "DistInfo", "all_gather_cat", "all_reduce_max", "all_reduce_mean", "all_reduce_sum", "barrier", "cleanup",
    "get_rank", "get_world_size", "init_distributed", "is_distributed", "is_main", "reduce_dict",
    "shard_batch", "unwrap", "wrap_ddp",
    "MetricLog", "TrainConfig", "TrainResult", "as_batch_fn", "autocast", "load_checkpoint",
    "rng_state", "save_checkpoint", "seed_everything", "set_rng_state", "to_device", "train",
    "NO_WEIGHT_DECAY", "cosine_lr", "layer_decay_param_groups", "make_optimizer", "param_groups",
    "set_lr", "vit_layer_ids",
]
