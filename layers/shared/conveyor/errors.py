"""Domain errors. Their class names are the error names that state machines catch."""


class ConveyorError(Exception):
    """Base class of every error Conveyor raises on purpose."""


class ConfigurationError(ConveyorError):
    """An environment variable is missing or malformed."""
