"""Ballerine's API under /api/v1 and its case management, over real HTTP on both stores."""
