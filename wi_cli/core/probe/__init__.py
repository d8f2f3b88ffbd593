"""`wi probe`: run the agent in a short-lived pod under a service account and read its report.

``targets`` checks the request and reads what the operator's credentials show (the identity, its
credentials, the data planes); ``manifest`` builds the ConfigMap and the hardened pod; ``run``
creates them, waits, reads the report and deletes both; ``verdict`` turns the outcome into
findings. Kubernetes and Azure are reached only through the ports (``core/ports.py``)."""

from .run import ProbeTimeout, probe
from .targets import ProbePorts, validate

__all__ = ["ProbePorts", "ProbeTimeout", "probe", "validate"]
