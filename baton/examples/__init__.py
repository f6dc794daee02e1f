"""Example workflow definitions, registered by ``baton serve --examples``."""
