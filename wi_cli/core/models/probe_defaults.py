"""What ``wi probe`` uses unless told otherwise: on their own, so the CLI's option defaults
cost no import of the probe's models."""

DEFAULT_PROBE_IMAGE = "mcr.microsoft.com/azurelinux/distroless/python:3.12"
DEFAULT_PROBE_TIMEOUT = 120.0
