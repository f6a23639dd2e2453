"""dpzoo-train: train a (differentially private) model and write its model card and SavedModel.

  dpzoo-train --model=tutorial_cnn --dataset=fashion_mnist --target_epsilon=3 --epochs=20
  dpzoo-train --config=train/configs/fashion_mnist/tutorial_cnn_eps3.py --output_dir=runs/eps3

A --config file defines get_config() returning a dpzoo.training.TrainConfig; flags given on
the command line override its fields.
"""

import dataclasses
import json
import os
import shlex
import sys
import types

from absl import flags

from dpzoo import (
    finetuning,
    methods,
    training,
    zoo,  # noqa: F401  (registers the zoo's checkpoints and backbones as --init_from names)
)
from dpzoo.artifacts import model_card
from dpzoo.cli import app
from dpzoo.cli.config_files import load_config
from dpzoo.common.errors import PEER_FAILURES, UsageError
from dpzoo.models import applications, hub
from dpzoo.privacy.dp_config import CLIPPING_NORMS, CLIPPING_STRATEGIES
from dpzoo.training import canary_audit, distribution, engines, pretrained, resume
from dpzoo.training.averaging import EVAL_WEIGHTS
from dpzoo.training.distribution import DISTRIBUTIONS
from dpzoo.training.train_config import (
    ACCOUNTANTS,
    BATCH_NORM_FIXES,
    INIT_WEIGHTS,
    JIT_MODES,
    LR_SCHEDULES,
    MODELMIX_MIXINGS,
    OPTIMIZERS,
    SAMPLINGS,
    TrainConfig,
)

D = types.SimpleNamespace(
    **{f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
)
_CONFIG = flags.DEFINE_string("config", None, "Python config file defining get_config() -> TrainConfig.")
flags.DEFINE_string("model", D.model, "Registered model name (see dpzoo.models.names()).")
flags.DEFINE_string("model_kwargs", "{}", 'JSON keyword arguments of the model, e.g. \'{"normalization": "group"}\'.')
flags.DEFINE_string(
    "init_from",
    None,
    "Fine-tune the model of this dpzoo run folder or zoo checkpoint or backbone (by name), a keras.applications "
    "model (keras.applications.MobileNetV3Small), a keras-hub preset's image backbone (keras_hub:PRESET, a preset "
    "name, hf:// handle or saved preset folder, with --init_data), a Keras file (.keras, with --init_data) or a "
    "weights file of --model (.weights.h5, with --init_data), pretrained on public data: its head is replaced by a "
    "zero one for --dataset's classes; --model and --model_kwargs must name its model.",
)
flags.DEFINE_enum(
    "finetune",
    D.finetune,
    finetuning.MODES,
    "With --init_from, what trains: full (every weight), head (the new head only), norms (normalisation scales "
    "and offsets, and the head) or lora (low-rank adapters of rank --lora_rank, and the head).",
)
flags.DEFINE_integer("lora_rank", D.lora_rank, "--finetune=lora: the adapters' rank r.", lower_bound=1)
flags.DEFINE_enum(
    "init_weights",
    D.init_weights,
    INIT_WEIGHTS,
    "A keras.applications --init_from's weights: imagenet (Keras downloads them once) or none (random: for tests).",
)
flags.DEFINE_string(
    "adapt_inputs",
    None,
    "HEIGHTxWIDTHxCHANNELS of an --init_from model built for other images (e.g. 32x32x3): --dataset's images "
    "are resized and a grey channel repeated to it by fixed layers in front of the model.",
)
flags.DEFINE_integer(
    "init_classes",
    None,
    "An --init_from weights file's number of classes, the head it was saved with (default: --dataset's).",
    lower_bound=1,
)
flags.DEFINE_string(
    "init_data",
    None,
    "An --init_from Keras or weights file's training data, as you declare it (e.g. imagenet21k): the file records none, and "
    "the card names it.",
)
flags.DEFINE_bool(
    "compose_start",
    D.compose_start,
    "The --init_from run was trained privately on this run's data (a private linear probe, say): compose its "
    "steps into this run's epsilon; --target_epsilon is then the total of both.",
)
flags.DEFINE_enum(
    "batch_norm",
    None,
    BATCH_NORM_FIXES,
    "An --init_from model's BatchNormalization: freeze (inference mode, pretrained statistics) or group_norm "
    "(GroupNormalization in its place); DP-SGD refuses it in training mode.",
)
flags.DEFINE_string(
    "dataset",
    D.dataset,
    "In memory: fashion_mnist, mnist, cifar10, svhn, digits, debian_descriptions, ag_news. Streamed by index "
    "from a tfds data set in ArrayRecord format (for data larger than memory): imagenet2012, or tfds:NAME.",
)
flags.DEFINE_string(
    "data_dir",
    None,
    "Folder with the dataset's files (IDX, CIFAR pickles, SVHN .mat files or <name>.npz); for a streamed "
    "dataset, the tfds data folder holding NAME/<version>/ (default: tfds's, ~/tensorflow_datasets) or that "
    "version folder.",
)
flags.DEFINE_integer("max_train_examples", None, "Train on the first N training examples only.")
flags.DEFINE_integer("epochs", D.epochs, "Training epochs (N / batch_size steps each).")
flags.DEFINE_integer("batch_size", D.batch_size, "Expected (Poisson) or exact (shuffle) batch size B.")
flags.DEFINE_float("learning_rate", D.learning_rate, "Learning rate of the optimizer.")
flags.DEFINE_enum(
    "lr_schedule", D.lr_schedule, LR_SCHEDULES, "constant, or cosine: decayed from --learning_rate to 0 over the run."
)
flags.DEFINE_enum("optimizer", D.optimizer, OPTIMIZERS, "Keras optimizer applied to the private gradient.")
flags.DEFINE_float("momentum", D.momentum, "Momentum, used when --optimizer=momentum.")
flags.DEFINE_float("l2_norm_clip", D.l2_norm_clip, "Per-example gradient clip norm C.")
flags.DEFINE_float("noise_multiplier", None, "Noise multiplier sigma (or give --target_epsilon).")
flags.DEFINE_float("target_epsilon", None, "Calibrate sigma to reach this epsilon after --epochs.")
flags.DEFINE_float("delta", D.delta, "Target delta of the (epsilon, delta) guarantee.")
flags.DEFINE_enum("sampling", D.sampling, SAMPLINGS, "poisson (amplified accounting) or shuffle (no amplification).")
flags.DEFINE_enum("accountant", D.accountant, ACCOUNTANTS, "Privacy accountant: pld (tight) or rdp.")
flags.DEFINE_enum(
    "engine",
    D.engine,
    engines.names(),
    "; ".join(engines.get(name).describe() for name in engines.names()) + ".",
)
flags.DEFINE_enum(
    "method",
    D.method,
    methods.names(),
    "; ".join(f"{name} ({methods.get(name).summary})" for name in methods.names()) + ".",
)
flags.DEFINE_enum(
    "clipping",
    D.clipping,
    CLIPPING_STRATEGIES,
    "dpzoo engine: auto (ghost where every trainable layer has a norm function, else vectorized), "
    "ghost (per-example norms from layer inputs and output gradients) or vectorized (per-example "
    "gradients materialised). All give the same update.",
)
flags.DEFINE_enum(
    "clipping_norm",
    D.clipping_norm,
    CLIPPING_NORMS,
    "l2, or l2+linf (refined clipping: then every coordinate clamped to C/sqrt(--linf_p); vectorised path).",
)
flags.DEFINE_float("linf_p", None, "p of refined clipping (the paper: 100 for ResNet-20).")
flags.DEFINE_float(
    "adaptive_clip_quantile",
    None,
    "tf_privacy engine: adaptive clipping (Andrew et al. 2021), the clip moving from --l2_norm_clip towards this "
    "quantile of the gradient norms (the paper: 0.5). sigma is then the step's effective one, count included.",
)
flags.DEFINE_float(
    "adaptive_clip_learning_rate", D.adaptive_clip_learning_rate, "Adaptive clipping: geometric step of the clip."
)
flags.DEFINE_float(
    "clipped_count_stddev", None, "Adaptive clipping: noise std of the clipped count (default: batch_size / 20)."
)
flags.DEFINE_integer(
    "audit_canaries",
    D.audit_canaries,
    "Plant M canaries (--audit_mode) for a one-run audit; the card gets the epsilon lower bound they show "
    "(dpzoo-audit --config=... --canaries=M runs this). The canaries change the weights: audit a recipe, not a model.",
    lower_bound=0,
)
flags.DEFINE_enum(
    "audit_mode",
    D.audit_mode,
    list(canary_audit.MODES),
    "white_box: gradient canaries in every noisy sum (dpzoo engine); black_box: mislabelled training examples scored "
    "on the final model (any method or engine).",
)
flags.DEFINE_float("modelmix_tau_ratio", D.modelmix_tau_ratio, "modelmix: the minimum gap tau over the learning rate.")
flags.DEFINE_enum(
    "modelmix_mixing",
    D.modelmix_mixing,
    MODELMIX_MIXINGS,
    "modelmix: uniform (a ~ U[0, 1], the method) or fixed (a = 1, gap only: an ablation, DP-SGD's epsilon).",
)
flags.DEFINE_enum("jit_compile", D.jit_compile, JIT_MODES, "XLA compilation; auto = on when a GPU/TPU is present.")
flags.DEFINE_boolean("standardize", D.standardize, "Standardise inputs per channel with published dataset statistics.")
flags.DEFINE_boolean("augment", D.augment, "Reflect-pad, random crop and random flip augmentation.")
flags.DEFINE_integer("crop_padding", D.crop_padding, "Reflect padding before the random crop (0: flips only).")
flags.DEFINE_integer(
    "augmult", D.augmult, "Augmentation multiplicity K: augmented views per example (needs --augment)."
)
flags.DEFINE_boolean(
    "mirror_views",
    D.mirror_views,
    "Two fixed views per example, itself and its mirror image, gradients averaged before clipping "
    "(with a ScatterNet both views' features are computed once). Not with --augment.",
)
flags.DEFINE_integer(
    "shift_views",
    D.shift_views,
    "Four more fixed views per example, itself shifted by this many pixels down, up, right and left "
    "(reflect-padded), gradients averaged before clipping; 0: none. Not with --augment.",
    lower_bound=0,
)
flags.DEFINE_float("ema_decay", D.ema_decay, "mu of the parameter EMA, decay min(mu, (1+t)/(10+t)).")
flags.DEFINE_enum("eval_weights", D.eval_weights, EVAL_WEIGHTS, "Weights to evaluate and export: raw, ema or polyak.")
flags.DEFINE_float(
    "data_norm_noise_multiplier",
    None,
    "Noise multiplier of the private per-channel mean and variance a model with normalization='data' needs "
    "(Tramer & Boneh's data normalisation; its cost is composed into epsilon).",
)
flags.DEFINE_float("data_norm_mean_clip", D.data_norm_mean_clip, "Clip norm of each example's channel means.")
flags.DEFINE_float(
    "data_norm_square_clip", D.data_norm_square_clip, "Clip norm of each example's channel mean squares."
)
flags.DEFINE_float(
    "feature_centering_noise_multiplier",
    None,
    "Noise multiplier of the private feature mean a model with normalization='group_centered' subtracts "
    "(DPSGD-F; its cost is composed into epsilon).",
)
flags.DEFINE_float(
    "feature_centering_clip",
    D.feature_centering_clip,
    "Clip norm of each example's features in the feature mean (no effect when it bounds every norm).",
)
flags.DEFINE_boolean("stop_at_epsilon", D.stop_at_epsilon, "Stop before the step that would exceed --target_epsilon.")
flags.DEFINE_integer("max_steps", None, "End the run after this many steps (a trial of a config).")
flags.DEFINE_integer(
    "physical_batch_size",
    None,
    "Virtual batches: run each logical step in chunks of at most this many rows (all replicas together), "
    "accumulating the clipped sums; noise and update once per step. Memory is set by it, not by --batch_size.",
)
flags.DEFINE_enum(
    "distribution",
    D.distribution,
    DISTRIBUTIONS,
    "tf.distribute: none, mirrored (this host's GPUs or logical CPUs), multi_worker (processes from TF_CONFIG) "
    "or tpu. One Poisson draw per step split over the replicas; the noise is added once.",
)
_CPU_DEVICES = flags.DEFINE_integer(
    "cpu_devices",
    None,
    "Split this host's CPU into this many logical devices, for --distribution=mirrored without GPUs "
    "(trying tf.distribute on a laptop; it adds no compute).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "checkpoint_every_steps",
    None,
    "Checkpoint the run every N steps into its staging folder (.<output_dir>.partial), so the same command "
    "resumes it after a crash; default: after each minute of training (every 100 steps with multi_worker); 0: never.",
    lower_bound=0,
)
flags.DEFINE_boolean(
    "deterministic",
    D.deterministic,
    "TensorFlow's op determinism: the same state computes bitwise the same step, so a resumed run ends with the "
    "uninterrupted run's weights. --nodeterministic lets kernels sum in any order (some GPU kernels are faster so); "
    "reruns then end close to, not at, the same weights.",
)
flags.DEFINE_integer("seed", D.seed, "Seed of sampling, initialisation and noise.")
flags.DEFINE_string("output_dir", D.output_dir, "Where the checkpoint, SavedModel and model card go.")
flags.DEFINE_boolean(
    "overwrite",
    D.overwrite,
    "Replace a non-empty --output_dir, and start afresh instead of resuming an interrupted run.",
)

FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]


def config_from_flags() -> TrainConfig:
    """The config file's TrainConfig (or the defaults) with every flag given on the command line."""
    overrides = {name: flags.FLAGS[name].value for name in FIELDS if flags.FLAGS[name].present}
    if "model_kwargs" in overrides:
        try:
            overrides["model_kwargs"] = json.loads(overrides["model_kwargs"])
        except json.JSONDecodeError as e:
            raise UsageError(f"--model_kwargs is not JSON: {e}") from e
    if overrides.get("init_from"):
        overrides["init_from"] = _checked_start(overrides["init_from"])
    if not _CONFIG.value:
        return TrainConfig(**overrides)
    config = load_config(_CONFIG.value)
    if config.init_from and "init_from" not in overrides:  # a config may name its start by its zoo name
        overrides["init_from"] = _checked_start(config.init_from)
    return dataclasses.replace(config, **_noise_given_replaces_target(config, overrides))


def _noise_given_replaces_target(config: TrainConfig, overrides: dict) -> dict:
    """The overrides, with the config's own noise setting dropped when the command line gives the
    other one (--noise_multiplier on a config with a target epsilon, or the reverse), as a run
    takes one of the two; with stop_at_epsilon both stay (the target is the budget)."""
    stops = overrides.get("stop_at_epsilon", config.stop_at_epsilon)
    for given, other in (("noise_multiplier", "target_epsilon"), ("target_epsilon", "noise_multiplier")):
        if given in overrides and other not in overrides and not stops:
            return {**overrides, other: None}
    return overrides


def _checked_start(init_from: str) -> str:
    """--init_from, checked: a folder, file, keras.applications model or keras-hub preset as given,
    or a zoo checkpoint's (or public backbone's) name, its files verified."""
    files = (pretrained.KERAS_FILE_SUFFIX, pretrained.WEIGHTS_FILE_SUFFIX)
    if os.path.isdir(init_from) or init_from.endswith(files):
        return init_from
    if applications.is_application(init_from) or hub.is_hub_preset(init_from):
        return init_from
    if pretrained.start_folder(init_from) != init_from:  # a zoo name (dpzoo.zoo resolves it), its files verified
        return init_from
    raise UsageError(
        f"--init_from={init_from}: neither a run folder, a zoo checkpoint or backbone (dpzoo-zoo list), a "
        "keras.applications model (keras.applications.NAME), a keras-hub preset (keras_hub:PRESET), a Keras model file (.keras) nor a weights file "
        "(.weights.h5)."
    )


def main(argv: list[str]) -> None:
    del argv
    config = config_from_flags()
    if _CPU_DEVICES.value:
        distribution.split_cpu(_CPU_DEVICES.value)
    try:
        result = training.run(config, command=shlex.join(["dpzoo-train", *sys.argv[1:]]))
    except PEER_FAILURES as e:
        if config.distribution != "multi_worker":
            raise
        first_line = str(e).strip().splitlines()[0][:300]
        staging = resume.staging_dir(config.output_dir)
        then = (
            f"run every worker's command again to resume from the last checkpoint in {staging}"
            if resume.has_checkpoint(staging)
            else "restart every worker"
        )
        sys.stderr.write(
            f"\ndpzoo-train: error: another worker of this multi-worker run failed or stopped answering "
            f"({type(e).__name__}: {first_line}). Nothing was written to {config.output_dir}; {then}.\n"
        )
        sys.exit(1)
    if not result.wrote:
        print(f"Trained as a worker of a multi-worker run; the chief writes {result.output_dir}.")
        return
    print(model_card.to_markdown(result.card))
    print(f"Wrote checkpoint, SavedModel and model card to {result.output_dir}")


def run() -> None:
    app.run(main)


if __name__ == "__main__":
    run()
