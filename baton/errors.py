"""One exception tree for Baton, apart from HTTP.

    BatonError
    ├── ValidationError      bad input; carries the fields at fault
    ├── NotFoundError        an unknown definition, run or task
    ├── ConflictError        the thing exists, or is in the wrong state for the request
    ├── AuthenticationError  no credentials, or ones not accepted (a ``code`` clients act on)
    ├── PermissionDeniedError  the credentials are good, their roles do not allow it
    ├── NotConfiguredError   the server was started without what the request needs (a setting)
    └── StoreError           the database failed (driver errors are wrapped here)

The docstring of each class is its default message. Status codes are chosen only
in the API layer.
"""

from __future__ import annotations


class BatonError(Exception):
    """Baton failed."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class FieldError:
    """One field at fault: a path such as ``tasks[2].taskReferenceName`` and why."""

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def __repr__(self) -> str:
        return f"FieldError({self.path!r}, {self.message!r})"


class ValidationError(BatonError):
    """The input is not valid."""

    def __init__(self, message: str | None = None, errors: list[FieldError] | None = None) -> None:
        self.errors = errors or []
        if message is None and self.errors:
            message = "; ".join(f"{e.path}: {e.message}" for e in self.errors)
        super().__init__(message)


class NotFoundError(BatonError):
    """Not found."""


class ConflictError(BatonError):
    """The request conflicts with the current state."""


class AuthenticationError(BatonError):
    """Credentials are required."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        """``INVALID_TOKEN``, ``EXPIRED_TOKEN`` or ``MISSING_CREDENTIALS``: clients refresh on the first two."""
        super().__init__(message)


class PermissionDeniedError(BatonError):
    """Not allowed."""


class NotConfiguredError(BatonError):
    """The server is not configured for this request."""


class StoreError(BatonError):
    """The store failed."""


# Conductor OSS's texts for what is not found or already exists: its clients and users match on them (a
# ``"not found" in message`` check, a test asserting the message), so Baton says them word for word.


def workflow_not_found(workflow_id: str) -> NotFoundError:
    return NotFoundError(f"Workflow with id: {workflow_id} not found.")


def task_not_found(task_id: str) -> NotFoundError:
    return NotFoundError(f"No such task found by id: {task_id}")


def workflow_def_not_found(name: str, version: int | None) -> NotFoundError:
    """``version`` None is the latest: Conductor prints its missing version as ``null``."""
    return NotFoundError(f"No such workflow found by name: {name}, version: {'null' if version is None else version}")


def task_def_not_found(name: str) -> NotFoundError:
    return NotFoundError(f"No such taskType found by name: {name}")


def workflow_def_exists_message(name: str, version: int) -> str:
    """A create (``POST /api/metadata/workflow``) of a name and version already registered: its 409."""
    return f"Workflow with {name}.{version} already exists!"
