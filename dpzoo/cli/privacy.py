"""dpzoo-privacy: the (epsilon, delta) of a DP-SGD run, or the noise needed for a target.

dpzoo-privacy --N=60000 --batch_size=256 --noise_multiplier=1.1 --epochs=60 --delta=1e-5
dpzoo-privacy --N=60000 --batch_size=256 --target_epsilon=3 --epochs=60 --format=json
dpzoo-privacy --N=50000 --batch_size=4096 --noise_multiplier=10 --target_epsilon=1  # steps the budget allows
dpzoo-privacy --method=modelmix --N=50000 --batch_size=1500 --noise_multiplier=0.335 --epochs=102 \
    --l2_norm_clip=20 --linf_p=100 --tau_over_lr=0.15 --accountant=rdp  # ModelMix's epsilon beside DP-SGD's
dpzoo-privacy --N=60000 --batch_size=2048 --target_epsilon=3 --epochs=40 --data_norm_noise_multiplier=8  # with
    # Tramer & Boneh's data normalisation released before training, composed into epsilon
"""

import json

from absl import flags

from dpzoo import accounting
from dpzoo.accounting import ModelMixTerms, calibrate_modelmix_noise
from dpzoo.cli import app
from dpzoo.common.errors import UsageError

_N = flags.DEFINE_integer("N", None, "Number of training examples.", lower_bound=1)
_BATCH = flags.DEFINE_integer("batch_size", None, "Expected (Poisson) or exact (shuffle) batch size.", lower_bound=1)
_SIGMA = flags.DEFINE_float("noise_multiplier", None, "Noise multiplier sigma (or give --target_epsilon).")
_TARGET = flags.DEFINE_float(
    "target_epsilon",
    None,
    "Print the sigma that reaches this epsilon after --epochs; with --noise_multiplier, the most steps within it.",
)
_EPOCHS = flags.DEFINE_float("epochs", None, "Epochs of training (N / batch_size steps each).")
_DELTA = flags.DEFINE_float("delta", 1e-5, "Delta of the (epsilon, delta) guarantee.")
_SAMPLING = flags.DEFINE_enum("sampling", "poisson", accounting.SAMPLINGS, "How batches are drawn.")
_ACCOUNTANT = flags.DEFINE_enum("accountant", "pld", accounting.ACCOUNTANTS, "pld (tight) or rdp.")
_FORMAT = flags.DEFINE_enum("format", "text", ["text", "json"], "Output format.")
_METHOD = flags.DEFINE_enum(
    "method",
    "dpsgd",
    ["dpsgd", "modelmix"],
    "dpsgd; or modelmix (Xiao et al.: plain SGD, every parameter mixed, refined clipping): states the smaller of "
    "ModelMix's epsilon and DP-SGD's, printing both. Needs --l2_norm_clip, --linf_p and --tau_over_lr.",
)
_CLIP = flags.DEFINE_float("l2_norm_clip", None, "modelmix: the clip norm C.")
_LINF_P = flags.DEFINE_float("linf_p", None, "modelmix: p of refined clipping (coordinates clamped to C/sqrt(p)).")
_TAU = flags.DEFINE_float("tau_over_lr", None, "modelmix: the minimum gap over the learning rate, tau / eta.")
_DATA_NORM = flags.DEFINE_float(
    "data_norm_noise_multiplier",
    None,
    "The noise multiplier of a data normalisation released before training (two Gaussian mechanisms, as "
    "dpzoo-train's); composed into the epsilon and the calibration.",
)
flags.mark_flags_as_required(["N", "batch_size"])


def statement() -> accounting.PrivacyStatement:
    """The statement for the flags' run: sigma calibrated to a target after --epochs, epsilon of
    a given sigma after --epochs, or (both given) the longest run whose epsilon stays in the target."""
    if _SIGMA.value is None and _TARGET.value is None:
        raise UsageError("Give --noise_multiplier, --target_epsilon, or both (the steps the budget allows).")
    if _DATA_NORM.value is not None and not _DATA_NORM.value > 0:
        raise UsageError(f"Expected --data_norm_noise_multiplier={_DATA_NORM.value} > 0.")
    prior = accounting.data_normalization(_DATA_NORM.value)
    run = dict(n=_N.value, batch_size=_BATCH.value, delta=_DELTA.value)
    common = run | dict(sampling=_SAMPLING.value, accountant=_ACCOUNTANT.value, prior=prior)
    mixing = modelmix_terms()
    sigma = _SIGMA.value
    if sigma is not None and _TARGET.value is not None:
        steps = accounting.max_steps(target_epsilon=_TARGET.value, noise_multiplier=sigma, **common)
    else:
        if _EPOCHS.value is None:
            raise UsageError("--epochs is required unless both --noise_multiplier and --target_epsilon are given.")
        if sigma is None:
            sigma = accounting.calibrate_noise(target_epsilon=_TARGET.value, epochs=_EPOCHS.value, **common)
        steps = max(1, round(_EPOCHS.value * accounting.steps_per_epoch(_N.value, _BATCH.value, _SAMPLING.value)))
        if _TARGET.value is not None and mixing is not None:
            sigma = calibrate_modelmix_noise(
                mixing, target_epsilon=_TARGET.value, steps=steps, dpsgd_noise_multiplier=sigma, prior=prior, **run
            )
    ledger = accounting.PrivacyLedger(
        noise_multiplier=sigma, l2_norm_clip=_CLIP.value, step_counter=lambda: steps, modelmix=mixing, **common
    )
    return ledger.statement()


def modelmix_terms() -> ModelMixTerms | None:
    """ModelMix's accounting terms from the flags (None for --method=dpsgd)."""
    if _METHOD.value != "modelmix":
        return None
    missing = [f"--{f.name}" for f in (_CLIP, _LINF_P, _TAU) if f.value is None]
    if missing:
        raise UsageError(f"--method=modelmix needs {', '.join(missing)}.")
    if _SAMPLING.value != "poisson":
        raise UsageError("ModelMix's accountant assumes Poisson sampling; use --sampling=poisson or --method=dpsgd.")
    if _SIGMA.value is not None and _TARGET.value is not None:
        raise UsageError("--method=modelmix takes --epochs with one of --noise_multiplier or --target_epsilon.")
    return ModelMixTerms(l2_norm_clip=_CLIP.value, linf_p=_LINF_P.value, tau_over_lr=_TAU.value)


def main(argv: list[str]) -> None:
    del argv
    result = statement()
    if _FORMAT.value == "json":
        print(json.dumps(result.to_dict() | {"statement": result.text()}, allow_nan=True))
    else:
        print(result.text())


def run() -> None:
    app.run(main)


if __name__ == "__main__":
    run()
