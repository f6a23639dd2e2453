"""dpzoo.methods: the published methods as plug-ins of the trainer, registered by name.

``get(name)`` is the method a run's ``--method`` names; ``names()`` lists them. Each module states
what its method adds to a DP-SGD run (``dpzoo.methods.method.Method``); registration is this one
explicit tuple, so a new method is one new module and one line here, and no edit of the trainer.
"""

from dpzoo.common.registry import Registry
from dpzoo.methods.de22 import De22
from dpzoo.methods.dpsgd import DPSGD
from dpzoo.methods.method import Attachment, Method, PrivacyTerms
from dpzoo.methods.modelmix import ModelMixMethod
from dpzoo.methods.sidp import SIDP, SIDPWithUpdateNoise

METHODS = (DPSGD(), De22(), SIDP(), SIDPWithUpdateNoise(), ModelMixMethod())
REGISTRY: Registry[Method] = Registry("method", ((method.name, method) for method in METHODS))
DEFAULT = DPSGD.name

get = REGISTRY.get
names = REGISTRY.names

__all__ = ["DEFAULT", "REGISTRY", "Attachment", "Method", "PrivacyTerms", "get", "names"]
