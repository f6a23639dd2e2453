"""The dpzoo version, kept in one place for setup.py and model cards."""

__version__ = "0.1.0"
