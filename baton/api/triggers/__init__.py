"""HTTP_ENDPOINT steps' surface, mounted at ``Settings.http_trigger_base_path`` (``/workflows``): every path and
method below it, answered as the run the request starts or resumes decides, errors as Elsa's ``{"message"}``."""

from __future__ import annotations

from baton.api.triggers.access import access
from baton.api.triggers.errors import error_body, exception_handlers
from baton.api.triggers.routes import routes

__all__ = ["access", "error_body", "exception_handlers", "routes"]
