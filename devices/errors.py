"""The device layer's one exception root."""


class DeviceError(Exception):
    """A device could not be opened, read or written; the message names the device."""


class DeviceURLError(DeviceError, ValueError):
    """A device URL in configuration is malformed or names an unknown backend."""
