"""The ResNet-20 settings of Xiao, Wan, Devadas (ModelMix; METHODS.md section 3), shared by the
paper's configs here.

ResNet-20 with GroupNorm, Poisson rate q = 1500 / N, C = 20, plain SGD, about 3,500 iterations,
delta 1e-5. ModelMix: lr 0.15, gap tau = 0.15 * lr, refined clipping p = 100; sigma is calibrated
so that the smaller of ModelMix's epsilon and DP-SGD's meets the target (the epsilon a ModelMix run
states). DP-SGD baseline: lr 0.1, plain L2 clipping, sigma calibrated to DP-SGD's epsilon. dpzoo
counts round(N / B) Poisson steps per epoch, so the iterations are the nearest whole number of
epochs: 106 x 33 = 3,498 on CIFAR-10 and 71 x 49 = 3,479 on SVHN (73,257 training images; the
"extra" split is not used). The paper states its epsilons with RDP; dpzoo's DP-SGD accountant
here is PLD (tighter), so the DP-SGD baselines get slightly less noise than the paper's.
"""

from dpzoo.training import TrainConfig

EPOCHS = {"cifar10": 106, "svhn": 71}


def paper_config(*, dataset: str, method: str, target_epsilon: float) -> TrainConfig:
    """One published cell: ResNet-20-GN on ``dataset`` with ``method`` ("modelmix" or "dpsgd")."""
    common = dict(
        model="resnet20",
        dataset=dataset,
        method=method,
        epochs=EPOCHS[dataset],
        batch_size=1500,
        optimizer="sgd",
        l2_norm_clip=20.0,
        target_epsilon=target_epsilon,
        delta=1e-5,
        sampling="poisson",
        accountant="pld",
        output_dir=f"runs/modelmix_paper/{dataset}_resnet20_{method}_eps{target_epsilon:g}",
    )
    if method == "modelmix":
        mixing = dict(learning_rate=0.15, clipping_norm="l2+linf", linf_p=100.0, modelmix_tau_ratio=0.15)
        return TrainConfig(**common, **mixing)
    return TrainConfig(**common, learning_rate=0.1)
