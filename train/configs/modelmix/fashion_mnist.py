"""Fashion-MNIST recipe of the ModelMix comparison table (results/fashion_mnist_modelmix.md).

ModelMix (Xiao et al., METHODS.md section 3) on the tutorial CNN with GroupNorm and tanh: plain
SGD lr 4, C 1, refined clipping p 100, gap tau = 0.0075 * lr (the paper's tau / (eta C) =
0.15 / 20, at C = 1), batch 1024, 5 epochs, Poisson sampling, delta 1e-5; sigma calibrated so
that the smaller of ModelMix's and DP-SGD's (PLD) epsilon meets --target_epsilon. The DP-SGD rows
are the same recipe with --method=dpsgd: same model, optimizer, clipping and steps, no mixing.
ResNet-20-GN is in the zoo (resnet20), but the table's runs of it do not fit this CPU.
Command: dpzoo-train --config=train/configs/modelmix/fashion_mnist.py --target_epsilon=1
  --output_dir=runs/modelmix/modelmix_eps1
Hardware: 2-core CPU, a few minutes per run.
"""

from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return TrainConfig(
        model="tutorial_cnn",
        model_kwargs={"normalization": "group", "activation": "tanh"},
        dataset="fashion_mnist",
        method="modelmix",
        epochs=5,
        batch_size=1024,
        learning_rate=4.0,
        optimizer="sgd",
        l2_norm_clip=1.0,
        clipping_norm="l2+linf",
        linf_p=100.0,
        modelmix_tau_ratio=0.0075,
        target_epsilon=3.0,
        delta=1e-5,
        sampling="poisson",
        accountant="pld",
        output_dir="runs/modelmix/latest",
    )
