"""Ballerine's API under ``/api/v1``: its routes and its error body."""
