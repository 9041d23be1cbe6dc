"""The REST scoring service: ``create_app(settings)`` builds the FastAPI app, ``gnnpt serve`` runs it."""

from gnnpt.api.app import create_app
from gnnpt.api.settings import Settings

__all__ = ["Settings", "create_app"]
