"""The loops and wake-ups that run beside the API in ``baton serve``."""
