"""The dashboard (mounted at ``/ui``; ``/`` leads to it): server-rendered pages for people, over the service layer.

Pages are Jinja2 templates (``templates/``) with a little plain JavaScript and CSS (``static/``), all shipped in
the package: nothing is fetched from elsewhere or built at run time. A person logs in with an access key; the
session cookie holds a token made from it (``session.py``), and the surface's rules (``access.py``) decide, by
the key's roles, what each page and action needs.
"""

from __future__ import annotations

from baton.api.dashboard import cases, definitions, operations, pages, run, runs, starting
from baton.api.dashboard.access import access
from baton.api.dashboard.errors import exception_handlers
from baton.api.dashboard.pages import home
from baton.api.dashboard.session import SessionCredentials

routes = [
    *pages.routes,
    *runs.routes,
    *run.routes,
    *starting.routes,
    *definitions.routes,
    *cases.routes,
    *operations.routes,
]

__all__ = ["SessionCredentials", "access", "exception_handlers", "home", "routes"]
