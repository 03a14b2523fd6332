"""nntrain: a command-line neural-network trainer with its own NumPy engine."""

__version__ = "0.1.0"
