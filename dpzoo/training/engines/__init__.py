"""dpzoo.training.engines: the engines a run trains with, registered by name, as methods are.

``get(name)`` is the engine a run's ``--engine`` names; ``names()`` lists them. Each module states
how its engine samples, whether its runs resume, chunk and distribute, and compiles the model
(``dpzoo.training.engines.engine.Engine``); the trainer and ``TrainConfig`` ask the engine and
never compare its name. A new engine is one module and one entry here.
"""

from dpzoo.common.registry import Registry
from dpzoo.training.engines.dpzoo_engine import DpzooEngine, dp_config, public_images
from dpzoo.training.engines.engine import CompilePlan, Engine, StepCounter
from dpzoo.training.engines.keras_setup import jit_enabled, learning_rate, make_optimizer
from dpzoo.training.engines.nonprivate import NonPrivateEngine
from dpzoo.training.engines.tf_privacy_engine import TFPrivacyEngine

ENGINES = (DpzooEngine(), TFPrivacyEngine(), NonPrivateEngine())
REGISTRY: Registry[Engine] = Registry("engine", ((engine.name, engine) for engine in ENGINES))
DEFAULT = DpzooEngine.name

get = REGISTRY.get
names = REGISTRY.names

__all__ = [
    "DEFAULT",
    "REGISTRY",
    "CompilePlan",
    "Engine",
    "StepCounter",
    "dp_config",
    "get",
    "jit_enabled",
    "learning_rate",
    "make_optimizer",
    "names",
    "public_images",
]
