"""The recipe of De et al. 2022 ("Unlocking high-accuracy differentially private image
classification through scale"), shared by the configs in this folder.

Plain SGD with a constant learning rate, no momentum, no weight decay; clip norm C = 1;
augmentation multiplicity K (reflect-pad 4, random crop, random flip); parameter EMA (mu 0.999)
used for evaluation; inputs standardised per channel; Poisson sampling; a noise multiplier
chosen per budget and training until the budget is spent (stop_at_epsilon). The paper accounts
with RDP, so these configs do too (PLD would allow a few more steps for the same epsilon). The
configs name the method de22 (dpzoo.methods.de22: DP-SGD's guarantee; their cards say de22).
"""

from dpzoo.training import TrainConfig


def de22_config(**fields) -> TrainConfig:
    """The recipe's fixed choices; each config adds model, data, budget and schedule."""
    recipe = dict(
        method="de22",
        optimizer="sgd",
        l2_norm_clip=1.0,
        delta=1e-5,
        sampling="poisson",
        accountant="rdp",
        stop_at_epsilon=True,
        standardize=True,
        augment=True,
        augmult=16,
        ema_decay=0.999,
        eval_weights="ema",
    )
    return TrainConfig(**(recipe | fields))


def cifar10_config(*, model: str, target_epsilon: float, noise_multiplier: float, learning_rate: float) -> TrainConfig:
    """CIFAR-10 (train + validation, N = 50,000), batch 4096, K = 16, in chunks of 128 rows
    (virtual batches: 2,048 views per forward and backward pass, whatever B is)."""
    steps = 3000  # upper bound; stop_at_epsilon ends the run when the budget is spent
    return de22_config(
        model=model,
        dataset="cifar10",
        batch_size=4096,
        physical_batch_size=128,
        epochs=-(-steps * 4096 // 50_000),
        learning_rate=learning_rate,
        target_epsilon=target_epsilon,
        noise_multiplier=noise_multiplier,
        output_dir=f"runs/de22_cifar10_{model}_eps{target_epsilon:g}",
    )
