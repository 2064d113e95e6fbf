"""Errors that end in one clear line for the user (exit code 2), never a traceback."""


class PrecisionLintError(Exception):
    """Base: the message is complete and names the file and the problem."""


class ModelLoadError(PrecisionLintError):
    """A model file that cannot be read (missing, empty, truncated, wrong format, LFS pointer...)."""


class RuleError(PrecisionLintError):
    """An invalid rule file or an unknown rule id."""


class ConfigError(PrecisionLintError):
    """An invalid configuration file, key or value."""
