"""Definitions: the list with each definition's versions, a version's page (drawn as a graph, its JSON, its
other versions) and a line diff between two versions. The JSON editor that registers one is ``editor.py``.

Every page reads through ``definitions.get_workflow`` / ``list_workflows``, the calls Conductor's metadata routes
make. A definition's JSON is shown as the API writes it, pretty-printed, less the fields left at their defaults (which
would bury the few that say something). The diff compares that JSON of two versions, less the two times the
server sets on every registration (``createTime``, ``updateTime``), which would differ on every pair.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard import editor
from baton.api.dashboard.editor import SERVER_SET_FIELDS, definition_json, definition_link
from baton.api.dashboard.graph import definition_graph
from baton.api.dashboard.templating import page
from baton.api.params import int_path_param, optional_int_param
from baton.api.state import service
from baton.model import WorkflowDef
from baton.model.access import Permission

DIFF_CONTEXT = 3
"""Unchanged lines shown around each change in the diff."""


@dataclass(frozen=True, slots=True)
class Listed:
    """One definition in the list: its versions, latest first."""

    name: str
    versions: list[WorkflowDef]

    @property
    def latest(self) -> WorkflowDef:
        return self.versions[0]


def step_count(definition: WorkflowDef) -> int:
    return len(definition.all_tasks())


async def _versions(request: Request, name: str) -> list[WorkflowDef]:
    return sorted(await service(request).definitions.list_workflows(name), key=lambda d: d.version, reverse=True)


async def definitions_page(request: Request) -> Response:
    by_name: dict[str, list[WorkflowDef]] = {}
    for definition in await service(request).definitions.list_workflows():
        by_name.setdefault(definition.name, []).append(definition)
    listed = [
        Listed(name, sorted(versions, key=lambda d: d.version, reverse=True))
        for name, versions in sorted(by_name.items())
    ]
    return page(request, "definitions.html", listed=listed, step_count=step_count)


async def latest_version(request: Request) -> Response:
    definition = await service(request).definitions.get_workflow(request.path_params["name"])
    return RedirectResponse(definition_link(definition.name, definition.version), status_code=303)


async def definition_page(request: Request) -> Response:
    name = request.path_params["name"]
    definition = await service(request).definitions.get_workflow(name, int_path_param(request, "version"))
    versions = [d.version for d in await _versions(request, name)]
    older = [version for version in versions if version < definition.version]
    return page(
        request,
        "definition.html",
        definition=definition,
        versions=versions,
        compare_with=older[0] if older else None,
        graph=definition_graph(definition),
        steps={step.task_reference_name: step for step in definition.all_tasks()},
        step_json=definition_json,
        definition_text=definition_json(definition),
        step_count=step_count(definition),
        registered=request.query_params.get("registered") == "1",
    )


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One row of the diff: ``kind`` is ``same``, ``added``, ``removed`` or ``gap`` (unchanged lines left out)."""

    kind: str
    old_number: int | None
    new_number: int | None
    text: str


def diff_lines(old: str, new: str) -> list[DiffLine]:
    """The line diff of two texts, each change with ``DIFF_CONTEXT`` unchanged lines around it; none when equal."""
    before, after = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    rows: list[DiffLine] = []
    groups = list(matcher.get_grouped_opcodes(DIFF_CONTEXT))
    for index, group in enumerate(groups):
        if index or group[0][1] > 0:
            rows.append(DiffLine("gap", None, None, "…"))
        for tag, old_start, old_end, new_start, new_end in group:
            rows.extend(_rows(tag, before, after, old_start, old_end, new_start, new_end))
    if groups and groups[-1][-1][2] < len(before):
        rows.append(DiffLine("gap", None, None, "…"))
    return [] if all(row.kind in ("same", "gap") for row in rows) else rows


def _rows(
    tag: str, before: list[str], after: list[str], old_start: int, old_end: int, new_start: int, new_end: int
) -> Iterator[DiffLine]:
    if tag == "equal":
        for offset in range(old_end - old_start):
            yield DiffLine("same", old_start + offset + 1, new_start + offset + 1, before[old_start + offset])
        return
    for number in range(old_start, old_end):
        yield DiffLine("removed", number + 1, None, before[number])
    for number in range(new_start, new_end):
        yield DiffLine("added", None, number + 1, after[number])


async def diff_page(request: Request) -> Response:
    name = request.path_params["name"]
    versions = await _versions(request, name)
    if not versions:
        await service(request).definitions.get_workflow(name)  # the 404 for a name no version has
    by_version = {d.version: d for d in versions}
    new_version = optional_int_param(request, "to", minimum=1) or versions[0].version
    old_version = optional_int_param(request, "from", minimum=1)
    if old_version is None:
        older = [v for v in by_version if v < new_version]
        old_version = max(older) if older else new_version
    old = by_version.get(old_version) or await service(request).definitions.get_workflow(name, old_version)
    new = by_version.get(new_version) or await service(request).definitions.get_workflow(name, new_version)
    rows = diff_lines(definition_json(old, without=SERVER_SET_FIELDS), definition_json(new, without=SERVER_SET_FIELDS))
    return page(
        request,
        "definition_diff.html",
        name=name,
        versions=[d.version for d in versions],
        old=old,
        new=new,
        rows=rows,
        added=sum(row.kind == "added" for row in rows),
        removed=sum(row.kind == "removed" for row in rows),
    )


RULES: dict[str, Permission] = {
    "GET /definitions": Permission.READ,
    **editor.RULES,
    "GET /definitions/{name}": Permission.READ,
    "GET /definitions/{name}/{version:int}": Permission.READ,
    "GET /definitions/{name}/diff": Permission.READ,
}

routes = [
    Route("/definitions", definitions_page, methods=["GET"]),
    *editor.routes,
    Route("/definitions/{name}", latest_version, methods=["GET"]),
    Route("/definitions/{name}/{version:int}", definition_page, methods=["GET"]),
    Route("/definitions/{name}/diff", diff_page, methods=["GET"]),
]
