"""HTTP surfaces: parse, call the service, render. Status codes are chosen here and nowhere else.

Each surface is a package (``conductor/``) exposing its ``routes`` and its ``exception_handlers``;
``server.py`` mounts each under its prefix. The modules here are what surfaces share: request
limits, reading parameters and JSON bodies, JSON answers, the exception-to-status mapping, the
route that leaves its siblings' words alone, and the helper that gives a route its service.
"""
