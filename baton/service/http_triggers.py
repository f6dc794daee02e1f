"""A request under the triggers' base path: which run it starts or resumes, and what its caller is answered.

``HttpTriggers.serve`` matches the request's path and method against the registered HTTP triggers first (the
most specific template wins), then against the HTTP_ENDPOINT steps runs wait at (narrowed by the run id or
correlation id the request names). A trigger starts a run whose first step completes with the request in the
start's own decision; a waiting step completes with it by an ``HttpRequestReceived`` event. Either way the
caller then waits, listening on the run's wake-up key and re-reading the stored run (so it works across servers
on one PostgreSQL), until the run answers (``engine/http_steps.py`` decides which response answers which
request): an HTTP_RESPONSE for its request is sent; a run that waits for someone outside, is paused or
completes without one answers 200 with an empty body; a run that fails answers 500 with the reason; the
step's ``requestTimeoutSeconds`` running out answers 408.

The HTTP triggers are kept for a second per process (``TRIGGER_CACHE_SECONDS``); a definition registered
through this process is seen at once, and a path no trigger matches is looked up afresh before it is a 404.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from baton.engine import HttpRequestReceived
from baton.engine.http_steps import ENDPOINT, EXCHANGE, answered, exchange_of, waited_since
from baton.errors import ConflictError, FieldError, NotFoundError, ValidationError
from baton.model import StartWorkflowRequest, Task, Workflow, WorkflowDef, WorkflowStatus
from baton.model.access import Permission
from baton.model.codec import decode, encode
from baton.model.http_endpoints import RouteTemplate, parse_template, path_problem, path_segments
from baton.model.triggers import HTTP_KIND, Trigger, methods_of
from baton.model.validation import chosen_id_problem, name_problem
from baton.service.acting import current_principal
from baton.service.context import ServiceContext
from baton.service.resolver import DefinitionResolver
from baton.service.runs import RunService
from baton.service.waits import WaitService
from baton.service.wakeups import run_key
from baton.store import WaitingTask

TRIGGER_CACHE_SECONDS: Final = 1.0
INSTANCE_HEADER: Final = "x-workflow-instance-id"
CORRELATION_HEADER: Final = "x-correlation-id"
_HIDDEN_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})
"""Request headers not kept in the step's output: the run's history is readable by anyone who reads runs."""
_FAILED: Final = frozenset({WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT, WorkflowStatus.TERMINATED})
_NO_BODY_STATUSES: Final = frozenset({204, 304})


@dataclass(frozen=True, kw_only=True)
class HttpCall:
    """A request as the surface read it (its body is read later, once its step's size limit is known)."""

    method: str
    path: str
    """The whole path, base included."""
    route_path: str
    """The path below the base, matched against the steps' templates."""
    headers: Sequence[tuple[str, str]]
    """Names lower-cased, in the order received."""
    query: Sequence[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)


@dataclass(frozen=True, kw_only=True)
class Answer:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] | None = None


ReadBody = Callable[[int | None], Awaitable[bytes | None]]
"""Reads the request's body up to a limit in bytes (None: the server's own); None when it is longer."""


@dataclass(frozen=True, slots=True)
class _Target:
    inputs: Mapping[str, Any]
    route_data: dict[str, str]
    trigger: tuple[Trigger, WorkflowDef] | None = None
    waiting: WaitingTask | None = None


def message(status: int, text: str, workflow_id: str | None = None) -> Answer:
    """An answer in the triggers' error shape, ``{"message": ...}``; about a run, with its id (body and header)."""
    if workflow_id is None:
        return Answer(status=status, body=encode({"message": text}), headers={"content-type": "application/json"})
    body = encode({"message": text, "workflowInstanceId": workflow_id})
    return Answer(
        status=status, body=body, headers={"content-type": "application/json", "X-Workflow-Instance-ID": workflow_id}
    )


class HttpTriggers:
    def __init__(self, ctx: ServiceContext, resolver: DefinitionResolver, runs: RunService, waits: WaitService) -> None:
        self._ctx = ctx
        self._resolver = resolver
        self._runs = runs
        self._waits = waits
        self._table: list[tuple[RouteTemplate, Trigger]] = []
        self._table_until = 0.0
        self._table_generation = -1
        self._templates: dict[str, RouteTemplate | None] = {}

    async def serve(self, call: HttpCall, read_body: ReadBody) -> Answer:
        """Start or resume the run the request is for, and answer it as the run does."""
        problem = path_problem(call.route_path)
        if problem is not None:
            raise ValidationError(f"path: {problem}", [FieldError("path", problem)])
        workflow_id = call.header(INSTANCE_HEADER) or call.param("workflowInstanceId") or None
        correlation_id = call.header(CORRELATION_HEADER) or call.param("correlationId") or None
        _check_ids(workflow_id, correlation_id)
        target = await self._target(call, workflow_id, correlation_id)
        inputs = target.inputs
        if inputs.get("authorize") is True:
            refused = _refused_caller()
            if refused is not None:
                return refused
        limit = inputs.get("requestSizeLimit")
        limit = int(limit) if isinstance(limit, int | float) and not isinstance(limit, bool) and limit > 0 else None
        raw = await read_body(limit)
        if raw is None:
            return message(413, f"The maximum request size allowed is {limit} bytes.")
        body = parse_body(raw, call.header("content-type"), self._ctx.settings.max_json_depth)
        timeout = self._timeout(inputs)
        exchange_id = self._ctx.new_id()
        request = {
            "body": body,
            "headers": _headers(call.headers),
            "query": _query(call.query),
            "routeData": target.route_data,
            "method": call.method,
            "path": call.path,
            EXCHANGE: {"id": exchange_id, "respondBy": self._ctx.clock() + int(timeout * 1000)},
        }
        deadline = asyncio.get_running_loop().time() + timeout
        if target.trigger is not None:
            definition = target.trigger[1]
            run_id = workflow_id or self._ctx.new_id()
            start = StartWorkflowRequest(
                name=definition.name, version=definition.version, correlation_id=correlation_id, input={}
            )
            with (
                self._ctx.notifier.listen(run_key(run_id)) as waiter,
                self._ctx.run_ends.watch(run_id) as end,
            ):
                first = await self._runs.start_triggered(definition, start, workflow_id=run_id, http_request=request)
                return await self._answer(first, exchange_id, deadline, waiter, end)
        assert target.waiting is not None
        run_id = target.waiting.workflow_id
        with self._ctx.notifier.listen(run_key(run_id)) as waiter, self._ctx.run_ends.watch(run_id) as end:
            event = HttpRequestReceived(task_id=target.waiting.task_id, request=request)
            decision = await self._ctx.apply_event(run_id, event)
            return await self._answer(decision.workflow, exchange_id, deadline, waiter, end)

    async def _answer(self, run: Workflow, exchange_id: str, deadline: float, waiter: Any, end: Any) -> Answer:
        loop = asyncio.get_running_loop()
        while True:
            found = answer_from(run, exchange_id)
            if found is not None:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                return message(
                    408,
                    f"Workflow {run.workflow_id} did not answer within the request's timeout",
                    run.workflow_id,
                )
            # Re-read at least once a second: a change made by another server may wake nobody here.
            await waiter.wait(min(remaining, 1.0))
            run = end.run or await self._runs.get(run.workflow_id, include_tasks=True)

    def _timeout(self, inputs: Mapping[str, Any]) -> float:
        settings = self._ctx.settings
        given = inputs.get("requestTimeoutSeconds")
        usable = isinstance(given, int | float) and not isinstance(given, bool) and given > 0
        wanted = float(given) if usable and given is not None else settings.http_trigger_timeout_seconds
        return min(wanted, settings.max_http_trigger_timeout_seconds)

    async def _target(self, call: HttpCall, workflow_id: str | None, correlation_id: str | None) -> _Target:
        parts = path_segments(call.route_path)
        method = call.method.upper()
        found = self._match_triggers(await self._triggers(fresh=False), parts, method)
        if found is None:
            waiting = await self._waits.waiting([ENDPOINT], workflow_id=workflow_id, correlation_id=correlation_id)
            matched = self._match_waiting(waiting, parts, method)
            if len(matched) > 1:
                ids = sorted({step.workflow_id for step, _ in matched})
                raise ConflictError(
                    f"{len(ids)} runs wait for {method} {call.path}: {', '.join(ids)}; name one with the header "
                    "X-Workflow-Instance-ID (or ?workflowInstanceId=) or X-Correlation-ID (or ?correlationId=)"
                )
            if matched:
                step, route_data = matched[0]
                return _Target(inputs=step.input_data, route_data=route_data, waiting=step)
            # A trigger registered through another server in the last second: look once more before the 404.
            found = self._match_triggers(await self._triggers(fresh=True), parts, method)
            if found is None:
                raise NotFoundError(f"No workflow starts or waits at {method} {call.path}")
        trigger, route_data = found
        definition = await self._resolver.by_name(trigger.workflow_name, trigger.workflow_version)
        first = definition.tasks[0]
        return _Target(
            inputs=first.input_parameters,
            route_data=_named_as_in(first.input_parameters.get("path"), route_data),
            trigger=(trigger, definition),
        )

    async def _triggers(self, *, fresh: bool) -> list[tuple[RouteTemplate, Trigger]]:
        now = time.monotonic()
        generation = self._resolver.generation
        if fresh or now >= self._table_until or generation != self._table_generation:
            table = []
            for trigger in await self._waits.triggers(HTTP_KIND):
                template = self._template(trigger.key)
                if template is not None:
                    table.append((template, trigger))
            self._table, self._table_until, self._table_generation = table, now + TRIGGER_CACHE_SECONDS, generation
        return self._table

    def _template(self, path: Any) -> RouteTemplate | None:
        if not isinstance(path, str):
            return None
        if path not in self._templates:
            if len(self._templates) > 10_000:
                self._templates.clear()
            parsed = parse_template(path)
            self._templates[path] = None if isinstance(parsed, str) else parsed
        return self._templates[path]

    @staticmethod
    def _match_triggers(
        table: list[tuple[RouteTemplate, Trigger]], parts: list[str], method: str
    ) -> tuple[Trigger, dict[str, str]] | None:
        best: list[tuple[tuple[int, int, int], Trigger, dict[str, str]]] = []
        for template, trigger in table:
            if trigger.method != method:
                continue
            route_data = template.match(parts)
            if route_data is None:
                continue
            rank = template.specificity
            if not best or rank > best[0][0]:
                best = [(rank, trigger, route_data)]
            elif rank == best[0][0]:
                best.append((rank, trigger, route_data))
        if not best:
            return None
        names = sorted({trigger.workflow_name for _, trigger, _ in best})
        if len(names) > 1:
            raise ConflictError(f"{method} /{'/'.join(parts)} matches the triggers of {', '.join(names)}")
        return best[0][1], best[0][2]

    def _match_waiting(
        self, waiting: list[WaitingTask], parts: list[str], method: str
    ) -> list[tuple[WaitingTask, dict[str, str]]]:
        matched = []
        for step in waiting:
            template = self._template(step.input_data.get("path"))
            if template is None or method not in methods_of(step.input_data):
                continue
            route_data = template.match(parts)
            if route_data is not None:
                matched.append((step, route_data))
        return matched


def _refused_caller() -> Answer | None:
    """An ``authorize: true`` step's refusal: 401 without good credentials, 403 for a key that may not START."""
    principal = current_principal()
    if principal is None:
        text = "This endpoint needs credentials: Authorization: Bearer <token>, or Bearer <keyId>:<keySecret>"
        body = encode({"message": text})
        return Answer(status=401, body=body, headers={"content-type": "application/json", "www-authenticate": "Bearer"})
    if not principal.may(Permission.START):
        role = principal.lacking_role(Permission.START)
        return message(403, f"This endpoint needs the {role} role; key {principal.key_id} has not got it")
    return None


def answer_from(run: Workflow, exchange_id: str) -> Answer | None:
    """What the caller of request ``exchange_id`` gets from the run as it is now; None: not yet known."""
    tasks = run.tasks
    response = answered(tasks, exchange_id)
    if response is not None:
        return _sent(response, run.workflow_id)
    if run.status in _FAILED:
        why = run.reason_for_incompletion or f"the run is {run.status.value}"
        return message(500, f"Workflow {run.workflow_id} {run.status.value}: {why}", run.workflow_id)
    if run.status.is_terminal or run.status is WorkflowStatus.PAUSED:
        return _empty(run.workflow_id)
    endpoint = _endpoint_of(tasks, exchange_id)
    if endpoint is None:  # the step is gone (the run was restarted or rerun)
        return _empty(run.workflow_id)
    exchange = exchange_of(endpoint) or {}
    after_seq = exchange.get("afterSeq")
    if waited_since(tasks, after_seq if isinstance(after_seq, int) else 0) is not None:
        return _empty(run.workflow_id)
    return None


def _endpoint_of(tasks: Sequence[Task], exchange_id: str) -> Task | None:
    for task in tasks:
        exchange = exchange_of(task)
        if exchange is not None and exchange.get("id") == exchange_id:
            return task
    return None


def _empty(workflow_id: str) -> Answer:
    return Answer(status=200, headers={"X-Workflow-Instance-ID": workflow_id})


def _sent(response: Task, workflow_id: str) -> Answer:
    """An HTTP_RESPONSE's output as the answer: a string body as text, anything else (but null) as JSON."""
    output = response.output_data
    status = output.get("statusCode")
    status = status if isinstance(status, int) else 200
    given = output.get("headers")
    headers = {str(k): str(v) for k, v in given.items()} if isinstance(given, dict) else {}
    lowered = {name.lower() for name in headers}
    if "x-workflow-instance-id" not in lowered:
        headers["X-Workflow-Instance-ID"] = workflow_id
    value = output.get("body")
    content_type = output.get("contentType")
    if value is None or status in _NO_BODY_STATUSES:
        body = b""
    elif isinstance(value, str):
        body, default_type = value.encode(), "text/plain; charset=utf-8"
        content_type = content_type or default_type
    else:
        body, content_type = encode(value), content_type or "application/json"
    if body and isinstance(content_type, str) and content_type and "content-type" not in lowered:
        headers["content-type"] = content_type
    return Answer(status=status, body=body, headers=headers)


def parse_body(raw: bytes, content_type: str | None, max_depth: int) -> Any:
    """The request's body as the step's output gives it: JSON parsed, a form as a map, anything else as text."""
    if not raw:
        return None
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return decode(raw, Any, what="body", max_depth=max_depth)
        except ValidationError as exc:
            raise ValidationError(f"The request body is not valid JSON: {exc.message}", exc.errors) from None
    text = raw.decode("utf-8", errors="replace")
    if kind == "application/x-www-form-urlencoded":
        return _query(urllib.parse.parse_qsl(text, keep_blank_values=True))
    return text


def _headers(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers:
        if name in _HIDDEN_HEADERS:
            continue
        found[name] = f"{found[name]}, {value}" if name in found else value
    return found


def _query(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Query (or form) parameters: a name given once maps to its value, one given more often to the list."""
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name not in found:
            found[name] = value
        elif isinstance(found[name], list):
            found[name].append(value)
        else:
            found[name] = [found[name], value]
    return found


def _named_as_in(path: Any, route_data: dict[str, str]) -> dict[str, str]:
    """Route data under the parameter names as the step writes them (a trigger's key is lower-cased)."""
    template = parse_template(path) if isinstance(path, str) else None
    if not isinstance(template, RouteTemplate):
        return route_data
    names = [name for is_param, name in template.segments if is_param] + ([template.rest] if template.rest else [])
    by_lower = {name.lower(): name for name in names}
    return {by_lower.get(key, key): value for key, value in route_data.items()}


def _check_ids(workflow_id: str | None, correlation_id: str | None) -> None:
    errors = []
    for where, problem in (
        ("X-Workflow-Instance-ID", chosen_id_problem(workflow_id) if workflow_id is not None else None),
        ("X-Correlation-ID", name_problem(correlation_id) if correlation_id is not None else None),
    ):
        if problem is not None:
            errors.append(FieldError(where, problem))
    if errors:
        raise ValidationError(errors=errors)
