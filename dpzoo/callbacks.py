"""Keras callbacks of private training, in one place: ModelMix (dpzoo.methods.modelmix), parameter
averaging (dpzoo.training.averaging), the privacy ledger and the step budget
(dpzoo.training.callbacks)."""

from dpzoo.methods.modelmix import ModelMix
from dpzoo.training.averaging import ParameterAveraging
from dpzoo.training.callbacks import PrivacyLedgerCallback, StopAtStep

__all__ = ["ModelMix", "ParameterAveraging", "PrivacyLedgerCallback", "StopAtStep"]
