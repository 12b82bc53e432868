"""The configuration's one error type."""

from __future__ import annotations


class ConfigError(Exception):
    """A mistake in a configuration file, as one line naming the file, the key and the fault.

    Example: ``config/default/site.toml: carriers[2].cutoff: '25:00' is not a HH:MM time``.
    """

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(f"{where}{problem}")
