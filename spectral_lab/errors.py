"""Exceptions the engine raises for bad input, so callers (CLI, app) can show one clear line."""


class SpectralLabError(ValueError):
    """Base class: a user-facing problem with an input, a setting or a file."""


class SignalError(SpectralLabError):
    """A signal could not be loaded or is unusable (empty, silent, NaN, wrong shape, ...)."""


class ConfigError(SpectralLabError):
    """A setting is unknown or out of its allowed range."""


class TrainingDiverged(SpectralLabError):
    """Training produced NaN/Inf; the best snapshot so far is kept by the run."""
