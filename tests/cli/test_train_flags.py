"""One option is one edit: every TrainConfig field is a dpzoo-train flag of the same name and
default (checked here against the dataclass, so a field without its flag fails this test)."""

import dataclasses
import json

from absl import flags

from dpzoo.cli import train
from dpzoo.training import TrainConfig

FLAGS = flags.FLAGS


def _default(field: dataclasses.Field):
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default


def mismatches(fields, flag_values) -> list[str]:
    """Fields without a flag, or whose flag's default differs from the field's."""
    problems = []
    for field in fields:
        if field.name not in flag_values:
            problems.append(f"{field.name}: no flag")
            continue
        flag_default = flag_values[field.name].default
        if field.name == "model_kwargs":
            flag_default = json.loads(flag_default)
        if flag_default != _default(field):
            problems.append(f"{field.name}: flag default {flag_default!r} != {_default(field)!r}")
    return problems


def test_every_config_field_is_a_flag_with_its_default():
    fields = dataclasses.fields(TrainConfig)
    assert mismatches(fields, FLAGS) == []
    assert set(train.FIELDS) == {f.name for f in fields}
    for field in fields:
        assert FLAGS[field.name].help, field.name


def test_a_field_added_without_its_flag_is_caught():
    extra = dataclasses.make_dataclass("Extra", [("brand_new_option", int, dataclasses.field(default=3))])
    assert mismatches(dataclasses.fields(extra), FLAGS) == ["brand_new_option: no flag"]
    changed = dataclasses.make_dataclass("Changed", [("batch_size", int, dataclasses.field(default=7))])
    assert mismatches(dataclasses.fields(changed), FLAGS) == ["batch_size: flag default 256 != 7"]


def test_the_noise_setting_given_on_the_command_line_replaces_the_configs():
    """A config with a target epsilon run with --noise_multiplier (or the reverse) takes the one
    given; both given stay both (refused later unless stop_at_epsilon); with stop_at_epsilon the
    config's target stays as the budget."""
    config = TrainConfig(target_epsilon=3.0)
    assert train._noise_given_replaces_target(config, {"noise_multiplier": 1.2}) == {
        "noise_multiplier": 1.2,
        "target_epsilon": None,
    }
    by_sigma = dataclasses.replace(config, **train._noise_given_replaces_target(config, {"noise_multiplier": 1.2}))
    assert by_sigma.noise_multiplier == 1.2 and by_sigma.target_epsilon is None
    sigma_config = TrainConfig(noise_multiplier=1.0)
    assert train._noise_given_replaces_target(sigma_config, {"target_epsilon": 2.0}) == {
        "target_epsilon": 2.0,
        "noise_multiplier": None,
    }
    both = {"noise_multiplier": 1.0, "target_epsilon": 2.0}
    assert train._noise_given_replaces_target(config, both) == both
    budget = TrainConfig(target_epsilon=3.0, stop_at_epsilon=True)
    assert train._noise_given_replaces_target(budget, {"noise_multiplier": 1.2}) == {"noise_multiplier": 1.2}
