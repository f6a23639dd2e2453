"""The ScatterNet recipes (Tramer & Boneh 2021, "Differentially private learning needs better
features"; METHODS.md section 5), shared by the configs in this folder.

The scattering transform (J = 2, L = 8, order 2) and the affine-free GroupNorm of its channels
look at no data: the trainer computes them once and trains the head on the features
(dpzoo.training.fixed_front). Fashion-MNIST, N = 60,000, delta 1e-5, Poisson sampling, PLD;
sigma is calibrated so that the configured epochs spend the target epsilon.

* ``tramer_boneh``: the paper's setting at epsilon 3: momentum SGD (0.9), clip norm C = 0.1, large
  batches, 40 epochs (ScatterNet + CNN: batch 2048, lr 4; ScatterNet + linear: batch 8192, lr 16).
* ``CENTERED``: DPSGD-F's feature centering (Sun, Suresh & Menon, ICLR 2024) on the linear model:
  the GroupNorm's features minus their mean, released before training with one Gaussian mechanism
  and composed into epsilon. Its noise multiplier, 32, makes the release alone (0.096, 1e-5)-DP; 8
  (Tramer & Boneh's for their data normalisation, (0.434, 1e-5)-DP alone) cost more accuracy at
  epsilon 1 than centring gained (results/fashion_mnist_scatternet.md).
  The clip, sqrt(3969) = 63, bounds every example's norm (GroupNorm's 27 groups of 147 values each
  have a sum of squares under 147), so it clips nothing and is fixed without looking at the data.
* ``CENTERED_SCALED``: ``CENTERED`` with the scattering's orders 0 and 1 (17 of the 81 channels,
  74% of the centred features' squared norm) multiplied by 0.7 after the centring, a fixed map
  that costs no privacy (results/fashion_mnist_scatternet.md).
* ``modelmix_table``: ModelMix's Fashion-MNIST table (Xiao et al.) on the ScatterNet CNN at
  epsilon 0.2 to 1.0. ModelMix's guarantee needs plain SGD, so both rows use plain SGD with the
  same model, batch, clip norm and steps; DP-SGD clips to L2 norm C, ModelMix adds refined
  clipping (p = 100) and the gap tau = 0.0075 * lr (the paper's tau / (eta C) = 0.15 / 20, at
  C = 1). Learning rate and epochs of each row were tuned with the same budget of runs at
  epsilon 0.6 (results/fashion_mnist_scatternet.md).
"""

from dpzoo.training import TrainConfig

TRAMER_BONEH = {
    "scatternet_linear": dict(batch_size=8192, learning_rate=16.0),
    "scatternet_cnn": dict(batch_size=2048, learning_rate=4.0),
}
CENTERED = dict(
    model_kwargs={"normalization": "group_centered"},
    feature_centering_noise_multiplier=32.0,
    feature_centering_clip=63.0,
)
# the centred features with the scattering's orders 0 and 1 scaled by 0.7 (chosen at epsilon 1, seed 0)
CENTERED_SCALED = CENTERED | dict(model_kwargs=CENTERED["model_kwargs"] | {"first_order_scale": 0.7})
# (learning rate, epochs) per method, chosen by the tuning runs at epsilon 0.6
MODELMIX_TABLE = {
    "dpsgd": dict(learning_rate=2.0, epochs=20),
    "modelmix": dict(learning_rate=2.0, epochs=10),
}


def _tag(epsilon: float) -> str:
    return f"{epsilon:g}".replace(".", "_")


def scatternet_config(**fields) -> TrainConfig:
    """Fashion-MNIST, Poisson sampling, PLD, delta 1e-5; fields add the rest."""
    common = dict(dataset="fashion_mnist", delta=1e-5, sampling="poisson", accountant="pld")
    return TrainConfig(**(common | fields))


def tramer_boneh(model: str, target_epsilon: float, **overrides) -> TrainConfig:
    """Tramer & Boneh's recipe for ``model`` ("scatternet_linear" or "scatternet_cnn")."""
    fields = dict(
        model=model,
        method="dpsgd",
        epochs=40,
        optimizer="momentum",
        momentum=0.9,
        l2_norm_clip=0.1,
        target_epsilon=target_epsilon,
        output_dir=f"runs/scatternet/{model}_eps{_tag(target_epsilon)}",
        **TRAMER_BONEH[model],
    )
    return scatternet_config(**(fields | overrides))


def modelmix_table(method: str, target_epsilon: float) -> TrainConfig:
    """One cell of ModelMix's Fashion-MNIST table: ``method`` "dpsgd" or "modelmix"."""
    fields = dict(
        model="scatternet_cnn",
        method=method,
        batch_size=2048,
        optimizer="sgd",
        l2_norm_clip=1.0,
        target_epsilon=target_epsilon,
        output_dir=f"runs/scatternet/cnn_{method}_eps{_tag(target_epsilon)}",
        **MODELMIX_TABLE[method],
    )
    if method == "modelmix":
        fields |= dict(clipping_norm="l2+linf", linf_p=100.0, modelmix_tau_ratio=0.0075)
    return scatternet_config(**fields)
