"""Two ``baton serve`` processes on one PostgreSQL database: one entity's concurrent runs, sent to both, make one."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from tests.ballerine.support import business, run_body, waiting_workflow
from tests.conftest import ServerProcess
from tests.helpers import ADMIN_HEADERS, register, unique

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def test_one_entitys_runs_on_two_servers_at_once_make_one_run(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    servers = list(two_servers)
    name = unique("onboard")
    with servers[0].client(timeout=30) as client:
        register(client, waiting_workflow(name))
    bodies = [run_body(name, business(unique("acme"))) for _ in range(5)]

    def run(index: int) -> tuple[int, str]:
        entity = index % len(bodies)
        server = servers[index % 2]
        response = httpx.post(
            f"{server.url}/api/v1/external/workflows/run", json=bodies[entity], headers=ADMIN_HEADERS, timeout=30
        )
        assert response.status_code == 200, response.text
        return entity, response.json()["workflowRuntimeId"]

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(run, range(40)))
    by_entity: dict[int, set[str]] = {}
    for entity, run_id in answers:
        by_entity.setdefault(entity, set()).add(run_id)
    assert all(len(ids) == 1 for ids in by_entity.values()), by_entity
    assert len({next(iter(ids)) for ids in by_entity.values()}) == len(bodies)
    found = httpx.get(
        f"{servers[1].url}/api/workflow/search",
        params={"query": f"workflowType IN ({name})", "size": 100},
        headers=ADMIN_HEADERS,
    ).json()
    assert found["totalHits"] == len(bodies)
