"""dpzoo.methods: the published methods as plug-ins of the trainer, registered by name.

``get(name)`` is the method a run's ``--method`` names; ``names()`` lists them. Each module states
what its method adds to a DP-SGD run (``dpzoo.methods.method.Method``); registration is this one
explicit list, so a new method is one new module and one line here, and no edit of the trainer.
"""

from dpzoo.methods.de22 import De22
from dpzoo.methods.dpsgd import DPSGD
from dpzoo.methods.method import Attachment, Method, PrivacyTerms
from dpzoo.methods.modelmix import ModelMixMethod
from dpzoo.methods.registry import MethodRegistry
from dpzoo.methods.sidp import SIDP, SIDPWithUpdateNoise

REGISTRY = MethodRegistry((DPSGD(), De22(), SIDP(), SIDPWithUpdateNoise(), ModelMixMethod()))
DEFAULT = DPSGD.name

get = REGISTRY.get
names = REGISTRY.names

__all__ = ["DEFAULT", "REGISTRY", "Attachment", "Method", "PrivacyTerms", "get", "names"]
