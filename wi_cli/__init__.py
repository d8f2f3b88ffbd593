"""wi: set up and diagnose Microsoft Entra Workload Identity on Kubernetes."""

__version__ = "0.1.0"
