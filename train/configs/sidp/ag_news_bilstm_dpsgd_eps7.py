"""AG News, DP-SGD BiLSTM, Davody et al. 2020 settings at epsilon 7, delta 1e-5; guarantee formal.

Hidden 32, frozen 100-d word vectors (random here: no pre-trained vectors offline), 32 hashed
tokens of title and description, batch 300, 12 epochs, SGD lr 0.1, C 3.1, sigma calibrated to
epsilon 7 (RDP, Poisson sampling). Not expressible here: the paper halves the lr at epochs 4
and 8 (this config keeps it constant).
Published: 83.9% test accuracy (Davody et al. 2020, DP-SGD BiLSTM, epsilon 7 as the paper states it).
Command: dpzoo-train --config=train/configs/sidp/ag_news_bilstm_dpsgd_eps7.py  (needs the internet once for tensorflow-datasets)
Hardware: not run here (AG News is not available offline): 4,800 steps of batch 300.
"""

from dpzoo.train.configs.sidp._paper import paper_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return paper_config(
        dataset="ag_news", model="bilstm", method="dpsgd", target_epsilon=7, epochs=12, batch_size=300, optimizer="sgd"
    )
