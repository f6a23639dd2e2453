"""One worker of a multi-worker zero-gradient step (run by test_multi_worker.py, one process per
worker, TF_CONFIG set): prints the update's std over sigma*C/B; 1 for a correct step.

  python -m tests.training.multi_worker_noise [correct|every_replica]
"""

import sys

import tensorflow as tf

import dpzoo
from dpzoo.training import distribution
from tests.privacy.test_mirrored import NoiseOnEveryReplica
from tests.privacy.test_virtual_batches import zero_gradient_noise_ratio


def main(variant: str) -> None:
    strategy = distribution.make_strategy("multi_worker")  # before any other op
    config = dpzoo.DPConfig(l2_norm_clip=3.0, noise_multiplier=2.0, expected_batch_size=32, seed=7)
    model_class = NoiseOnEveryReplica if variant == "every_replica" else None
    ratio = zero_gradient_noise_ratio(config, model_class=model_class, strategy=strategy)
    print(f"noise_ratio={ratio:.5f} chief={distribution.is_chief(strategy)}", flush=True)


if __name__ == "__main__":
    tf.get_logger().setLevel("ERROR")
    main(sys.argv[1] if len(sys.argv) > 1 else "correct")
