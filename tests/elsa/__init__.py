"""Elsa 3's API under /elsa/api, and a definition's inputs checked on every way in, through real HTTP on both stores."""
