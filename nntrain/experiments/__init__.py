"""Experiments: families of runs and their comparison — sweep spaces and plans, running them
in local processes or on Ray, finding runs and reading their status, history and configs.
Nothing here prints; the commands in nntrain/cli/experiment_commands.py present it."""
