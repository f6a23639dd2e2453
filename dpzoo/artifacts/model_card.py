"""Model cards: what was trained, on what, how private, how accurate (JSON + Markdown)."""

import json
import math
import os
import shutil

CARD_JSON = "model_card.json"
CARD_MARKDOWN = "model_card.md"


def _fmt(value) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.4g}"
    return str(value)


WEIGHT_NAMES = {"raw": "final", "ema": "EMA", "polyak": "Polyak"}


def _by_weights(results: dict) -> str:
    accuracies = results["test_accuracy_by_weights"]
    return ", ".join(f"{WEIGHT_NAMES[k]} {100 * v:.2f}%" for k, v in accuracies.items())


def to_markdown(card: dict) -> str:
    """A human-readable card: privacy first, then results, data and hyper-parameters."""
    privacy, results = card["privacy"], card["results"]
    lines = [
        f"# Model card: {card['model']['name']} on {card['dataset']['name']}",
        "",
        f"**Test accuracy: {100 * results['test_accuracy']:.2f}%** ({card['dataset']['n_test']} test examples, "
        f"{results['eval_weights']} weights; {_by_weights(results)})",
        "",
        "## Privacy",
        "",
        f"- Guarantee: **{privacy['guarantee']}**",
        f"- Epsilon: **{_fmt(privacy['epsilon'])}** at delta = {privacy['delta']:g}",
        f"- Accountant: {privacy['accountant']}; sampling: {privacy['sampling']}",
        f"- Noise multiplier {_fmt(privacy['noise_multiplier'])}, clip norm "
        f"{_fmt(privacy['l2_norm_clip'])}, {privacy['steps']} steps, batch {privacy['batch_size']} "
        f"of {privacy['n']}",
        f"- Statement: {privacy['statement']}",
        *_pretraining_lines(card.get("pretraining")),
        "",
        "## Data",
        "",
    ]
    lines += [f"- {k}: {_fmt(v)}" for k, v in card["dataset"].items()]
    lines += ["", "## Training", ""]
    lines += [f"- {k}: {_fmt(v)}" for k, v in card["training"].items()]
    lines += ["", "## Per epoch", "", "| epoch | train acc | test acc | epsilon |", "|---|---|---|---|"]
    for row in card["history"]:
        lines.append(
            f"| {row['epoch']} | {_fmt(row.get('accuracy', float('nan')))} | "
            f"{_fmt(row.get('val_accuracy', float('nan')))} | {_fmt(row.get('epsilon', float('inf')))} |"
        )
    lines += _audit_lines(card.get("audit"))
    lines += canary_audit_lines(card.get("canary_audit"))
    lines += canary_audit_lines(card.get("recipe_canary_audit"), RECIPE_AUDIT_HEADING)
    lines += [
        "",
        "## Reproduce",
        "",
        f"```\n{card['command']}\n```",
        "",
        f"dpzoo {card['dpzoo_version']}, TensorFlow {card['tensorflow_version']}{_keras(card)}, "
        f"trained in {card['wall_time_s']:.0f} s.",
        "",
    ]
    return "\n".join(lines)


def _pretraining_lines(pretraining: dict | None) -> list[str]:
    """A fine-tuning run's starting point, under its privacy: the epsilon above covers this run's
    private steps only, which holds because the starting point saw none of this data, or it
    covers both, composed, when the start was trained privately on this data."""
    if not pretraining:
        return []
    start = (
        f"- Fine-tuned ({pretraining['finetune']}) from {pretraining['model']} in {pretraining['init_from']} "
        f"(weights sha256 {pretraining['sha256']})"
    )
    if pretraining.get("composed"):
        return [
            "",
            "## Pretraining (composed into the epsilon above)",
            "",
            start,
            f"- It was trained privately on this run's data ({pretraining['dataset']}); its steps are composed "
            "with this run's into the epsilon above",
            f"- Its own statement: {pretraining['statement']}",
            "- Its classification layer carries on (trained on this task), and nothing its own run froze stays frozen",
            *_preparation_lines(pretraining),
        ]
    return [
        "",
        "## Pretraining (not covered by the epsilon above)",
        "",
        start,
        f"- It saw {pretraining['dataset']} ({pretraining['dataset_source']}), not this run's data: public "
        "pretraining costs no privacy only because its data is public",
        f"- Its own statement: {pretraining['statement']}",
        *_preparation_lines(pretraining),
    ]


def _preparation_lines(pretraining: dict) -> list[str]:
    """What the run changed of the starting point before training: its inputs, its BatchNormalization."""
    lines = []
    if pretraining.get("adapt_inputs"):
        lines.append(
            f"- Inputs adapted: this data's images resized and channel-repeated to {pretraining['adapt_inputs']} "
            "by fixed layers in front of the model"
        )
    if pretraining.get("batch_norm"):
        lines.append(f"- BatchNormalization: {pretraining['batch_norm']} (dpzoo.privacy.fix_batch_normalization)")
    return lines


def _audit_lines(audit: dict | None) -> list[str]:
    """The membership-inference section (dpzoo.zoo.audit), if the card has one."""
    if not audit:
        return []
    lines = [
        "",
        "## Membership-inference audit",
        "",
        f"{audit['members']} training examples against {audit['non_members']} test examples, "
        f"TF Privacy's attack library ({audit['source']}).",
        "",
        "| attack | AUC | attacker advantage | implied epsilon lower bound |",
        "|---|---|---|---|",
    ]
    for attack in audit["attacks"]:
        lines.append(
            f"| {attack['attack']} | {attack['auc']:.3f} | {attack['advantage']:.3f} "
            f"| {attack['epsilon_lower_bound']:.3f} |"
        )
    return lines


RUN_AUDIT_HEADING = "Canary audit ({mode}, one run)"
RECIPE_AUDIT_HEADING = "Canary audit of this recipe ({mode}, one run of it with canaries)"


def canary_audit_lines(audit: dict | None, heading: str = RUN_AUDIT_HEADING) -> list[str]:
    """A canary audit (dpzoo.training.canary_audit), white-box or black-box: of this run, if it
    planted canaries, or of a zoo checkpoint's recipe (a rerun of its command with canaries,
    ``audit["command"]``)."""
    if not audit:
        return []
    mode = audit.get("mode", "white_box").replace("_", "-")
    heading = heading.format(mode=mode)
    if "not_audited" in audit:
        return ["", f"## {heading}", "", f"Not audited: {audit['not_audited']}."]
    rerun = [f"- Audited run: `{audit['command']}`"] if "command" in audit else []
    rerun += [f"- Note: {audit['note']}."] if "note" in audit else []
    claimed = audit["claimed_epsilon"]
    share = f" ({audit['share_of_claim']:.0%} of the claimed {claimed:.4g})" if claimed else ""
    verdict = (
        "ABOVE the claim: the mechanism is not what the epsilon assumes"
        if audit["exceeds_claim"]
        else "at or below the claim"
    )
    threshold = (
        [
            f"- Clopper-Pearson bound of the top guesses as a threshold: epsilon >= {audit['clopper_pearson_epsilon']:.3f}"
        ]
        if "clopper_pearson_epsilon" in audit
        else []
    )
    return [
        "",
        f"## {heading}",
        "",
        f"- {mode}: epsilon >= {audit['epsilon_lower_bound']:.3f} at {audit['confidence']:.0%} confidence, "
        f"delta {audit['delta']:g}{share}: {verdict}",
        f"- {audit['canaries']} canaries, {audit['guesses']} guesses, {audit['correct']} correct"
        + (_white_box_detail(audit) if mode == "white-box" else _black_box_detail(audit)),
        *threshold,
        *(_noise_lines(audit) if mode == "white-box" else []),
        f"- What it tests: {audit['what']}. The canaries changed the audited run's weights.",
        *rerun,
    ]


def _white_box_detail(audit: dict) -> str:
    return f"; {audit['steps']} steps at sampling rate {audit['sampling_rate']:.4g}"


def _black_box_detail(audit: dict) -> str:
    return (
        f"; {audit['included']} of them in the training set; score: {audit['score']} "
        f"(mean {audit['mean_score_in']:.3f} in, {audit['mean_score_out']:.3f} out)"
    )


def _noise_lines(audit: dict) -> list[str]:
    """The white-box noise check and, where the audit has it, its parametric bound."""
    low, high = audit["noise_ratio_interval"]
    return [
        f"- noise on excluded canaries: {audit['noise_ratio']:.4f} x the claimed sigma C "
        f"(interval {low:.4f} to {high:.4f}, {audit['noise_samples']} values)"
        + (": BELOW the claim" if audit.get("noise_below_claim") else ""),
        *_parametric_line(audit, audit["claimed_epsilon"]),
    ]


def _parametric_line(audit: dict, claimed: float | None) -> list[str]:
    """The noise check's parametric bound, where the audit has one (audits before it do not)."""
    if "noise_epsilon_lower_bound" not in audit:
        return []
    bound = audit["noise_epsilon_lower_bound"]
    return [
        f"- epsilon >= {bound:.3f} from the noise check's upper end, if the noise is Gaussian (parametric: the "
        "canaries' Poisson-sampled Gaussian mechanism at that noise)"
        + (": ABOVE the claim" if claimed is not None and bound > claimed else "")
    ]


def write(card: dict, directory: str) -> None:
    """Writes the card as JSON and Markdown; each file is replaced whole (never half-written)."""
    for name, text in (
        (CARD_JSON, json.dumps(card, indent=2, default=_json_default) + "\n"),
        (CARD_MARKDOWN, to_markdown(card)),
    ):
        partial = os.path.join(directory, f".{name}.partial")
        with open(partial, "w") as f:
            f.write(text)
        os.replace(partial, os.path.join(directory, name))


def read(directory: str) -> dict:
    with open(os.path.join(directory, CARD_JSON)) as f:
        return json.load(f)


def read_all(runs_dir: str) -> dict[str, dict]:
    """The card of every finished run folder directly under ``runs_dir``, by folder name (sorted);
    hidden folders (a run's staging folder) are skipped."""
    cards = {}
    for name in sorted(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []:
        if not name.startswith(".") and os.path.isfile(os.path.join(runs_dir, name, CARD_JSON)):
            cards[name] = read(os.path.join(runs_dir, name))
    return cards


def copy_all(runs_dir: str, names, destination: str) -> None:
    """Copies the named runs' cards (JSON and Markdown) into ``destination`` as NAME.json / NAME.md."""
    os.makedirs(destination, exist_ok=True)
    for name in names:
        for card_file, suffix in ((CARD_JSON, "json"), (CARD_MARKDOWN, "md")):
            shutil.copy(os.path.join(runs_dir, name, card_file), os.path.join(destination, f"{name}.{suffix}"))


def _json_default(value):
    if hasattr(value, "items"):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def results_table(cards: list[dict]) -> str:
    """A Markdown table with one row per run: accuracy, privacy (all of it), and the exact command."""
    lines = [
        "| model | method | test accuracy | weights | K | epsilon | delta | guarantee | accountant | sampling "
        "| noise multiplier | steps | batch | command |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for card in sorted(cards, key=lambda c: (c["privacy"]["epsilon"], c["model"]["name"])):
        privacy, training, results = card["privacy"], card["training"], card["results"]
        lines.append(
            f"| {card['model']['name']} {card['model']['kwargs'] or ''} | {training.get('method', 'dpsgd')} "
            f"| {100 * results['test_accuracy']:.2f}% | {WEIGHT_NAMES[results['eval_weights']]} "
            f"| {card['dataset']['augmult']} | {_fmt(privacy['epsilon'])} | {privacy['delta']:g} "
            f"| {privacy['guarantee']} | {privacy['accountant']} | {privacy['sampling']} "
            f"| {_fmt(privacy['noise_multiplier'])} | {privacy['steps']} | {training['batch_size']} "
            f"| `{card['command']}` |"
        )
    return "\n".join(lines) + "\n"


def _keras(card: dict) -> str:
    """ ", <Keras package> <version>" where the card records it (cards from before dpzoo ran on Keras 3 do not)."""
    return f", {card['keras_version']}" if card.get("keras_version") else ""
