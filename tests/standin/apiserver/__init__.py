"""The stand-in's Kubernetes REST API server (see server.py)."""

from tests.standin.apiserver.server import ApiServer

__all__ = ["ApiServer"]
