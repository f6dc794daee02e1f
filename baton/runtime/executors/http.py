"""HTTP tasks: ``inputParameters.http_request`` as Conductor takes it, called with httpx.

The output is Conductor's: ``response`` with ``body`` (parsed when it is JSON,
else the text), ``headers`` (each a list of values), ``statusCode`` and
``reasonPhrase``. A 2xx answer completes the task; any other answer, or no answer
(refused, timed out), fails it with a reason, and the task is retried per its
TaskDef; with ``asyncComplete`` a 2xx answer leaves the task IN_PROGRESS (with
the response as output) until it is completed through the API, as in Conductor.
A request the task cannot even make (no uri, one that is not an http(s) URL,
an unknown method) fails with a terminal error: retrying would not help. Such a
uri is accepted when the definition is registered, as Conductor accepts it. So does
a call the outbound guard refuses (``runtime.outbound``: a loopback, link-local or
metadata address, at the first hop or any redirect's).

Choices where Conductor leaves room: ``connectionTimeOut`` and ``readTimeOut``
(milliseconds) default to 10 s each, not Conductor's 100/150 ms; the whole call is
cut off before the task's lease runs out. A ``body`` that is a string is sent as
it is; anything else as JSON. Response bodies over 8 MiB fail the task.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from baton.model import Task, TaskResultStatus
from baton.model.validation import HTTP_METHODS
from baton.runtime.executors.reporting import Reporter
from baton.runtime.outbound import OutboundRefused

DEFAULT_TIMEOUT_MS: Final = 10_000
MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
_LEASE_MARGIN_SECONDS: Final = 2.0
_MAX_REASON_BODY: Final = 500


class BadRequest(Exception):
    """The task's input does not describe a request that can be made."""


class ResponseTooLarge(Exception):
    pass


@dataclass(frozen=True, kw_only=True)
class HttpRequest:
    uri: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    accept: str = "application/json"
    content_type: str = "application/json"
    connect_timeout_ms: int = DEFAULT_TIMEOUT_MS
    read_timeout_ms: int = DEFAULT_TIMEOUT_MS


@dataclass(frozen=True, kw_only=True)
class HttpResponse:
    status_code: int
    reason_phrase: str
    headers: dict[str, list[str]]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    def as_output(self) -> dict[str, Any]:
        return {
            "body": self.body,
            "headers": self.headers,
            "statusCode": self.status_code,
            "reasonPhrase": self.reason_phrase,
        }


def parse_request(spec: Any) -> HttpRequest:
    """``http_request`` (as resolved for this task) as a request; BadRequest naming the field."""
    if not isinstance(spec, dict):
        raise BadRequest("http_request must be an object with uri and method")
    uri = spec.get("uri")
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
        raise BadRequest(f"http_request.uri must be an http:// or https:// URL, not {uri!r}")
    try:
        host = httpx.URL(uri).host
    except httpx.InvalidURL as exc:
        raise BadRequest(f"http_request.uri is not a valid URL ({exc}): {uri!r}") from None
    if not host:
        raise BadRequest(f"http_request.uri names no host: {uri!r}")
    method = spec.get("method") or "GET"
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise BadRequest(f"http_request.method must be one of {', '.join(HTTP_METHODS)}, not {method!r}")
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict):
        raise BadRequest("http_request.headers must be an object")
    timeouts = []
    for name in ("connectionTimeOut", "readTimeOut"):
        value = spec.get(name)
        if value is None:
            timeouts.append(DEFAULT_TIMEOUT_MS)
        elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
            timeouts.append(value)
        else:
            raise BadRequest(f"http_request.{name} must be a positive number of milliseconds, not {value!r}")
    return HttpRequest(
        uri=uri,
        method=method.upper(),
        headers={str(k): v if isinstance(v, str) else json.dumps(v) for k, v in headers.items()},
        body=spec.get("body"),
        accept=str(spec.get("accept") or "application/json"),
        content_type=str(spec.get("contentType") or "application/json"),
        connect_timeout_ms=timeouts[0],
        read_timeout_ms=timeouts[1],
    )


async def send(client: httpx.AsyncClient, request: HttpRequest, *, budget_seconds: float) -> HttpResponse:
    """Make the call within ``budget_seconds`` in all; raises httpx errors, TimeoutError or ResponseTooLarge."""
    headers = {"Accept": request.accept, **request.headers}
    content: bytes | None = None
    if request.body is not None:
        headers.setdefault("Content-Type", request.content_type)
        body = request.body
        content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    timeout = httpx.Timeout(
        connect=min(request.connect_timeout_ms / 1000, budget_seconds),
        read=min(request.read_timeout_ms / 1000, budget_seconds),
        write=min(request.read_timeout_ms / 1000, budget_seconds),
        pool=budget_seconds,
    )
    async with asyncio.timeout(budget_seconds):
        async with client.stream(
            request.method, request.uri, headers=headers, content=content, timeout=timeout
        ) as response:
            raw = bytearray()
            async for chunk in response.aiter_bytes():
                raw.extend(chunk)
                if len(raw) > MAX_RESPONSE_BYTES:
                    raise ResponseTooLarge(f"the response body is over {MAX_RESPONSE_BYTES} bytes")
            return HttpResponse(
                status_code=response.status_code,
                reason_phrase=response.reason_phrase,
                headers={key: response.headers.get_list(key) for key in response.headers},
                body=_parse_body(bytes(raw), response.encoding or "utf-8"),
            )


def success_status(task: Task) -> TaskResultStatus:
    """COMPLETED; IN_PROGRESS for a step with ``asyncComplete``, which something else completes later."""
    step = task.workflow_task
    return TaskResultStatus.IN_PROGRESS if step is not None and step.async_complete else TaskResultStatus.COMPLETED


def budget_for(lease_seconds: int) -> float:
    """How long a call may take: it must answer before the task's lease runs out."""
    return max(1.0, lease_seconds - _LEASE_MARGIN_SECONDS)


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"the call timed out ({type(exc).__name__})"
    return f"the call failed: {type(exc).__name__}: {exc}"


def _parse_body(raw: bytes, encoding: str) -> Any:
    if not raw:
        return None
    text = raw.decode(encoding, errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


async def run_http(task: Task, client: httpx.AsyncClient, reporter: Reporter, lease_seconds: int) -> None:
    try:
        request = parse_request(task.input_data.get("http_request"))
    except BadRequest as exc:
        await reporter.report(task, TaskResultStatus.FAILED_WITH_TERMINAL_ERROR, reason=str(exc))
        return
    try:
        response = await send(client, request, budget_seconds=budget_for(lease_seconds))
    except OutboundRefused as exc:
        reason = f"{request.method} {request.uri}: {exc}"
        await reporter.report(task, TaskResultStatus.FAILED_WITH_TERMINAL_ERROR, reason=reason)
        return
    except (httpx.HTTPError, TimeoutError, ResponseTooLarge) as exc:
        await reporter.report(
            task, TaskResultStatus.FAILED, reason=f"{request.method} {request.uri}: {failure_reason(exc)}"
        )
        return
    output = {"response": response.as_output()}
    if response.ok:
        await reporter.report(task, success_status(task), output)
        return
    body = response.body if isinstance(response.body, str | None) else json.dumps(response.body)
    reason = f"{request.method} {request.uri} answered {response.status_code} {response.reason_phrase}"
    if body:
        reason = f"{reason}: {body[:_MAX_REASON_BODY]}"
    await reporter.report(task, TaskResultStatus.FAILED, output, reason=reason)
