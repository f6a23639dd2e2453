"""Config files (``--config``): Python files whose get_config() returns a TrainConfig, read by
dpzoo-train and dpzoo-audit alike."""

import importlib.util

from dpzoo.common.errors import UsageError
from dpzoo.training import TrainConfig


def load_config(path: str) -> TrainConfig:
    """Imports a config file and returns its get_config(); UsageError if it is not one."""
    spec = importlib.util.spec_from_file_location("dpzoo_user_config", path)
    if spec is None:
        raise UsageError(f"--config={path}: not a Python file.")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except FileNotFoundError as e:
        raise UsageError(f"--config={path}: file not found.") from e
    except SyntaxError as e:
        raise UsageError(f"--config={path}: syntax error at line {e.lineno}: {e.msg}. Fix the file.") from e
    except Exception as e:  # a user's file may raise anything: say what and where
        raise UsageError(f"--config={path}: importing it raised {_one_line(e)}. Fix the file.") from e
    get_config = getattr(module, "get_config", None)
    if not callable(get_config):
        raise UsageError(f"--config={path}: defines no get_config(); it must return a dpzoo TrainConfig.")
    try:
        config = get_config()
    except UsageError as e:
        raise UsageError(f"--config={path}: get_config() made an invalid TrainConfig: {e}") from e
    except Exception as e:
        raise UsageError(f"--config={path}: get_config() raised {_one_line(e)}. Fix the file.") from e
    if not isinstance(config, TrainConfig):
        raise UsageError(f"--config={path}: get_config() must return a dpzoo TrainConfig, not {type(config).__name__}.")
    return config


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__
