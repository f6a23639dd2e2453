"""The settings of Davody et al. 2020 (METHODS.md section 2), shared by the paper's configs here.

As the authors' code runs it: batch 32, clip norm C = 3.1, SGD lr 0.1 with momentum 0.9, 10
epochs; sigma is calibrated to each published epsilon over that run (the paper states epsilon
as DP-SGD's for its sigma, batch and epochs, accounted with RDP as TF Privacy does; dpzoo
samples Poisson batches and accounts the same way). SIDP's weight noise std is
lr * C * sigma / B. Not expressible here: the MNIST runs' learning-rate decay of 0.9 per epoch
(these configs keep lr constant). The paper gives no other CIFAR-10 settings, so those configs
use the same ones.
"""

from dpzoo.training import TrainConfig


def paper_config(*, dataset: str, model: str, method: str, target_epsilon: float, **fields) -> TrainConfig:
    """One published cell: model, method and epsilon on the paper's settings (``fields`` replace
    them where the paper's text models differ)."""
    settings = dict(
        epochs=10,
        batch_size=32,
        learning_rate=0.1,
        optimizer="momentum",
        momentum=0.9,
        l2_norm_clip=3.1,
        delta=1e-5,
        sampling="poisson",
        accountant="rdp",
        output_dir=f"runs/sidp_paper/{dataset}_{model}_{method}_eps{target_epsilon:g}",
    )
    return TrainConfig(
        model=model, dataset=dataset, method=method, target_epsilon=target_epsilon, **(settings | fields)
    )
