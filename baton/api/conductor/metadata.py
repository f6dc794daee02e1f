"""``/api/metadata``: workflow and task definitions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.params import body_as, bool_param, int_path_param, optional_int_param
from baton.api.responses import JSONResponse
from baton.api.state import service
from baton.model import TaskDef, WorkflowDef


async def create_workflow(request: Request) -> Response:
    definition = await body_as(request, WorkflowDef)
    await service(request).definitions.register_workflow(definition, overwrite=bool_param(request, "overwrite", False))
    return Response(status_code=200)


async def update_workflows(request: Request) -> Response:
    definitions = await body_as(request, list[WorkflowDef])
    await service(request).definitions.update_workflows(definitions)
    return JSONResponse({"status": "OK", "count": len(definitions)})


async def list_workflows(request: Request) -> Response:
    return JSONResponse(await service(request).definitions.list_workflows())


async def get_workflow(request: Request) -> Response:
    definition = await service(request).definitions.get_workflow(
        request.path_params["name"], optional_int_param(request, "version")
    )
    return JSONResponse(definition)


async def delete_workflow(request: Request) -> Response:
    await service(request).definitions.delete_workflow(request.path_params["name"], int_path_param(request, "version"))
    return Response(status_code=200)


async def create_task_defs(request: Request) -> Response:
    task_defs = await body_as(request, list[TaskDef])
    await service(request).definitions.register_task_defs(task_defs)
    return Response(status_code=200)


async def update_task_def(request: Request) -> Response:
    task_def = await body_as(request, TaskDef)
    await service(request).definitions.register_task_defs([task_def])
    return Response(status_code=200)


async def list_task_defs(request: Request) -> Response:
    return JSONResponse(await service(request).definitions.list_task_defs())


async def get_task_def(request: Request) -> Response:
    return JSONResponse(await service(request).definitions.get_task_def(request.path_params["name"]))


async def delete_task_def(request: Request) -> Response:
    await service(request).definitions.delete_task_def(request.path_params["name"])
    return Response(status_code=200)


routes = [
    Route("/metadata/workflow", create_workflow, methods=["POST"]),
    Route("/metadata/workflow", update_workflows, methods=["PUT"]),
    Route("/metadata/workflow", list_workflows, methods=["GET"]),
    Route("/metadata/workflow/{name}", get_workflow, methods=["GET"]),
    Route("/metadata/workflow/{name}/{version:int}", delete_workflow, methods=["DELETE"]),
    Route("/metadata/taskdefs", create_task_defs, methods=["POST"]),
    Route("/metadata/taskdefs", update_task_def, methods=["PUT"]),
    Route("/metadata/taskdefs", list_task_defs, methods=["GET"]),
    Route("/metadata/taskdefs/{name}", get_task_def, methods=["GET"]),
    Route("/metadata/taskdefs/{name}", delete_task_def, methods=["DELETE"]),
]
