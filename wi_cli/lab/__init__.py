"""Local emulators of Entra ID, Azure Resource Manager, an OIDC issuer host and Kubernetes.

Imports nothing else from ``wi_cli``: the lab stands in for the outside world.
"""
