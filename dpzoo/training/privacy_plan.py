"""A run's privacy plan, before it trains: the noise multiplier and the number of steps.

sigma is given, or calibrated to ``target_epsilon`` over the configured epochs by DP-SGD's
accountant and then by the run's method (a method with its own accountant may need less); with
``stop_at_epsilon`` the run ends at the last step whose epsilon is within the target. A release
before training (``prior_release``: the private run a fine-tuning run starts from, data
normalisation) is composed into both.
"""

from dpzoo import accounting, methods
from dpzoo.artifacts import model_card
from dpzoo.training import engines, pretrained
from dpzoo.training.train_config import TrainConfig


def prior_release(config: TrainConfig) -> accounting.GaussianReleases | accounting.EarlierRun | None:
    """What was released of the training set before this run trains: the private run it starts
    from (``compose_start``), then its data normalisation's statistics and its feature mean; None if
    nothing."""
    earlier = None
    if config.compose_start:
        privacy = model_card.read(pretrained.start_folder(config.init_from))["privacy"]
        earlier = accounting.earlier_run(privacy, what=f"the private run it starts from ({config.init_from})")
    return accounting.composed(earlier, *accounting.statistics_releases(config))


def resolve_noise(config: TrainConfig, n: int) -> float:
    """The noise multiplier of a run of ``config`` on ``n`` examples."""
    if not engines.get(config.engine).private:
        return 0.0
    if config.noise_multiplier is not None:
        return config.noise_multiplier
    dpsgd_sigma = accounting.calibrate_noise(
        target_epsilon=config.target_epsilon,
        delta=config.delta,
        n=n,
        batch_size=config.batch_size,
        epochs=config.epochs,
        sampling=config.sampling,
        accountant=config.accountant,
        prior=prior_release(config),
    )
    return methods.get(config.method).noise_multiplier(config, n, dpsgd_sigma)


def planned_steps(config: TrainConfig, n: int, noise_multiplier: float, steps_per_epoch: int) -> int:
    """Steps the run will take: ``epochs`` epochs, cut short where the budget ends if
    ``stop_at_epsilon`` (the largest step count whose epsilon is within the target), and at
    ``max_steps`` if given."""
    steps = config.epochs * steps_per_epoch
    if config.stop_at_epsilon and noise_multiplier > 0:
        budget = accounting.max_steps(
            target_epsilon=config.target_epsilon,
            delta=config.delta,
            n=n,
            batch_size=config.batch_size,
            noise_multiplier=noise_multiplier,
            sampling=config.sampling,
            accountant=config.accountant,
            prior=prior_release(config),
        )
        steps = min(steps, budget)
    return min(steps, config.max_steps or steps)
