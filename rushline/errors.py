"""The command line's error type: a user's mistake, shown as one clear line."""


class UserError(Exception):
    """A mistake in input (config, file, device, argument): printed as one line, exit 2.

    Raise it with the file/field/device named, e.g.
    ``UserError("config/site.toml: [carriers.dhl] cutoff: '25:00' is not a time")``.
    """
