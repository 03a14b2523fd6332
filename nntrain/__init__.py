"""nntrain: a command-line neural-network trainer with its own NumPy engine, and its Python API.

    import nntrain
    model = nntrain.Model.from_config("configs/mnist1d_mlp.yaml")
    model.fit(x, y, epochs=5)
    nntrain.load("runs/mnist1d-cnn").predict(x)
"""

__version__ = "0.1.0"

from nntrain.api import History, Model, load, resume  # noqa: E402
from nntrain.errors import (CheckpointError, ConfigError, DataError, InputError,  # noqa: E402
                            TrainingAborted, WriteError)
from nntrain.memory import memory_limit, set_max_memory  # noqa: E402

__all__ = ["CheckpointError", "ConfigError", "DataError", "History", "InputError", "Model",
           "TrainingAborted", "WriteError", "load", "memory_limit", "resume", "set_max_memory"]
