"""Debian package descriptions (offline text), LN-BiLSTM with SIDP at a nominal epsilon 3, delta 1e-5.

The text path of Davody et al. 2020 on a real labelled corpus available without the internet
(dpzoo.data.text_corpora: six sections, 6,259 training and 1,534 test descriptions on bookworm): batch
256, 10 epochs, SGD lr 1 with momentum 0.9, C 1, Poisson sampling, PLD accountant; guarantee
nominal (no formal guarantee; the card says why). No published anchor.
Command: dpzoo-train --config=train/configs/sidp/debian_descriptions_ln_bilstm_sidp_eps3.py
Hardware: 2-core CPU, a few minutes.
"""

from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return TrainConfig(
        model="ln_bilstm",
        dataset="debian_descriptions",
        method="sidp",
        epochs=10,
        batch_size=256,
        learning_rate=1.0,
        optimizer="momentum",
        momentum=0.9,
        l2_norm_clip=1.0,
        target_epsilon=3.0,
        delta=1e-5,
        sampling="poisson",
        accountant="pld",
        output_dir="runs/sidp/debian_descriptions_ln_bilstm_sidp_eps3",
    )
