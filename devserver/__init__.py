"""tdev: a development auto-reload runner for Tornado web apps."""

__version__ = "0.1.0"
