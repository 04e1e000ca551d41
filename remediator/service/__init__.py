"""The HTTP service the Backoffice calls (``remediator serve``): a door into the engine."""

from remediator.service.app import create_app
from remediator.service.wiring import Service, open_service

__all__ = ["Service", "create_app", "open_service"]
