"""No workflow can hurt the server or another run: each attack against a real ``baton serve``, on both stores.

Beside every attack a prober GETs /health every 50 ms from another process; each test asserts the
bound the attack runs into (the task fails with a reason naming it), that /health answered every probe
in under 100 ms meanwhile, and that a normal run (INLINE + SWITCH) still completes with the right
output afterwards. A watch kills a server that grows past 1 GiB, so an unbounded attack fails its
test rather than the machine. The attacks share one server per store; those that configure, kill or weigh
their server, or leave it holding a wide fork, start their own.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.api.health_prober import HealthProber
from tests.api.hostile_support import (
    MIB,
    RssWatch,
    assert_normal_run,
    call,
    execute,
    get_run,
    inline,
    jq,
    js_switch,
    proc_status_bytes,
    reasons,
    register,
    send_half_bodies,
    stall_mid_body,
    start,
    task_of,
    wait_for_end,
    workflow,
)
from tests.conftest import ServerProcess, running_server

pytestmark = [pytest.mark.timeout(180), pytest.mark.serial]

HEALTH_BOUND = 0.1
FAN_OUT_HEALTH_BOUND = 0.25
"""/health while a 20,000-branch fork is decided and written, on two cores. Probes waited 131-168 ms in one in two
of about eight CI runs while SQLite's checkpoint could still take the write lock (TRUNCATE) from the event loop's
next write; with PASSIVE checkpoints only, the worst probe of the fan-out took 3-25 ms alone and 9-88 ms beside two
busy loops (12 and 10 runs). A stall of the loop itself (3.2 s before issue 8) still fails it."""
"""Seconds: the worst /health latency allowed while an attack runs."""
RSS_BOUND = 500 * MIB
JQ_TIME_BOUND = "exceeded 1000 ms"
MEMORY_OR_TIME = re.compile(r"exceeded (its memory limit of \d+ MiB|1000 ms)")


@dataclass
class Baton:
    """A server under attack, a client for it (calls time out), and the watch on its memory."""

    server: ServerProcess
    client: httpx.Client
    watch: RssWatch

    def assert_memory_below(self, bound: int) -> None:
        assert self.watch.killed is None, self.watch.killed
        peak = max(self.watch.peak, proc_status_bytes(self.server.pid, "VmHWM"))
        assert peak < bound, f"the server's resident memory peaked at {peak // MIB} MiB (bound {bound // MIB} MiB)"


@pytest.fixture
def serve(store_url: str, tmp_path: Path) -> Iterator[Callable[..., Baton]]:
    """Start servers on this test's database (``env``: extra ``BATON_*`` settings); all stopped at the end."""
    started: list[Baton] = []

    def make(env: dict[str, str] | None = None) -> Baton:
        server = ServerProcess(store_url, tmp_path / f"server{len(started)}.log", env=env)
        server.start()
        watch = RssWatch(lambda: _pid_or_none(server)).__enter__()
        baton = Baton(server, server.client(timeout=10.0), watch)
        started.append(baton)
        return baton

    try:
        yield make
    finally:
        for baton in started:
            baton.client.close()
            baton.watch.__exit__(None, None, None)
            baton.server.stop()


def _pid_or_none(server: ServerProcess) -> int | None:
    try:
        return server.pid
    except AssertionError:
        return None


@pytest.fixture
def own_baton(serve: Callable[..., Baton]) -> Baton:
    """A server of the test's own, for an attack whose server's peak memory is asserted or that leaves it holding
    tens of thousands of tasks."""
    return serve()


@pytest.fixture(scope="module")
def baton(server_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baton]:
    """One server of each store for the file's other attacks, started once: each asserts on its own runs, on the
    probes taken while it ran and on the log lines it added, never on the server's peak memory."""
    folder = tmp_path_factory.mktemp(f"hostile-{server_store}")
    with (
        running_server(server_store, folder) as server,
        server.client(timeout=10.0) as client,
        RssWatch(lambda: _pid_or_none(server)) as watch,
    ):
        yield Baton(server, client, watch)


# 1. jq that never ends, and jq that eats memory ----------------------------------------------------------------


def test_endless_jq_fails_at_its_time_bound(baton: Baton) -> None:
    register(baton.client, workflow("hostile_jq_spin", [jq("spin", "last(range(1e11))")]))
    with HealthProber(baton.server.url) as prober:
        run = wait_for_end(baton.client, start(baton.client, "hostile_jq_spin"))
    prober.assert_worst_below(HEALTH_BOUND)
    assert run["status"] == "FAILED", reasons(run)
    spin = task_of(run, "spin")
    assert spin["status"] == "FAILED"
    assert f"JSON_JQ_TRANSFORM 'spin' {JQ_TIME_BOUND}" in spin["reasonForIncompletion"], reasons(run)
    assert_normal_run(baton.client)


@pytest.mark.parametrize("query", ["[range(1e9)]", "[limit(1e8; repeat(1))]"])
def test_jq_memory_bombs_fail_at_a_bound_and_the_server_stays_small(own_baton: Baton, query: str) -> None:
    register(own_baton.client, workflow("hostile_jq_bomb", [jq("bomb", query)]))
    try:
        with HealthProber(own_baton.server.url) as prober:
            run = wait_for_end(own_baton.client, start(own_baton.client, "hostile_jq_bomb"))
    finally:  # the server's size is the first thing to report, even when it stopped answering
        own_baton.assert_memory_below(RSS_BOUND)
    prober.assert_worst_below(HEALTH_BOUND)
    bomb = task_of(run, "bomb")
    assert (run["status"], bomb["status"]) == ("FAILED", "FAILED"), reasons(run)
    reason = bomb["reasonForIncompletion"]
    assert reason.startswith("JSON_JQ_TRANSFORM 'bomb' exceeded") and MEMORY_OR_TIME.search(reason), reason
    assert_normal_run(own_baton.client)


# 2. The poison pill: a child's jq bomb, and the server killed while it runs --------------------------------------


@pytest.mark.slow
def test_a_server_killed_during_a_jq_bomb_comes_back_healthy(serve: Callable[..., Baton]) -> None:
    # A short lease, so the restarted server takes the SUB_WORKFLOW step up again in seconds, not 30.
    baton = serve(env={"BATON_SERVER_TASK_LEASE_SECONDS": "2"})
    client = baton.client
    register(client, workflow("hostile_pill_child", [jq("bomb", "last(range(1e11))")]))
    sub = {
        "name": "pill",
        "taskReferenceName": "pill",
        "type": "SUB_WORKFLOW",
        "subWorkflowParam": {"name": "hostile_pill_child", "version": 1},
    }
    register(client, workflow("hostile_pill_parent", [sub]))
    parent_id = start(client, "hostile_pill_parent")
    time.sleep(0.5)  # the child's bomb is in flight (its bound is 1 s)
    baton.server.kill()
    restarted = time.monotonic()
    baton.server.start(timeout=15)
    assert time.monotonic() - restarted < 5, "the restarted server took more than 5 s to answer /health"
    with HealthProber(baton.server.url) as prober:
        parent = wait_for_end(client, parent_id, timeout=45)
        child_id = task_of(parent, "pill")["subWorkflowId"]
        child = wait_for_end(client, child_id)
    prober.assert_worst_below(HEALTH_BOUND)
    assert (parent["status"], child["status"]) == ("FAILED", "FAILED"), reasons(parent) + "\n" + reasons(child)
    assert f"JSON_JQ_TRANSFORM 'bomb' {JQ_TIME_BOUND}" in task_of(child, "bomb")["reasonForIncompletion"]
    assert_normal_run(client)


# 3. One run's script cannot change another's ------------------------------------------------------------------

TAMPER = "Array.prototype.includes = function(){return true}; Object.prototype.toJSON = function(){return 'pwned'}; 1"


def test_a_script_tampering_with_builtins_changes_no_other_run(baton: Baton) -> None:
    client = baton.client
    register(client, workflow("hostile_tamper", [inline("tamper", TAMPER)]))
    said = {case: [inline(f"said_{case}", f"'{case}'")] for case in ("yes", "no")}
    register(
        client,
        workflow(
            "hostile_victim",
            [
                inline("calc", "({amount: $.x * 2})", x="${workflow.input.x}"),
                js_switch("check", "[1,2].includes(7) ? 'yes' : 'no'", said),
            ],
            outputParameters={"calc": "${calc.output.result}", "case": "${check.output.evaluationResult}"},
        ),
    )
    with HealthProber(baton.server.url) as prober:
        for x in range(1, 7):
            tampered = execute(client, "hostile_tamper", {})
            assert tampered["status"] in ("COMPLETED", "FAILED"), tampered
            victim = execute(client, "hostile_victim", {"x": x})
            assert victim["status"] == "COMPLETED", reasons(victim)
            assert victim["output"] == {"calc": {"amount": 2 * x}, "case": ["no"]}, victim["output"]
            refs = {t["referenceTaskName"] for t in victim["tasks"]}
            assert "said_no" in refs and "said_yes" not in refs, refs
    prober.assert_worst_below(HEALTH_BOUND)


def test_scripts_do_not_share_a_memory_budget(baton: Baton) -> None:
    client = baton.client
    register(client, workflow("hostile_big", [inline("big", "new Array(2e6).fill(1.5).length")]))
    register(client, workflow("hostile_small", [inline("small", "$.x + 1", x="${workflow.input.x}")]))
    with HealthProber(baton.server.url) as prober:
        for x in range(40):
            big = execute(client, "hostile_big", {})
            assert (big["status"], task_of(big, "big")["outputData"]) == (
                "COMPLETED",
                {"result": 2_000_000},
            ), f"alternation {x}: {reasons(big)}"
            small = execute(client, "hostile_small", {"x": x})
            assert (small["status"], task_of(small, "small")["outputData"]) == (
                "COMPLETED",
                {"result": x + 1},
            ), f"alternation {x}: {reasons(small)}"
    prober.assert_worst_below(HEALTH_BOUND)


# 4. Sixteen endless scripts at once -----------------------------------------------------------------------------


SHORT_SCRIPT_BOUND_MS = 250
"""The sixteen scripts' server bounds a script at this, not the default 1000 ms: sixteen at once on two sandbox
children then take 2 s of the serial part, not 8, and each still has to be cut off at the bound."""


@pytest.mark.slow
def test_sixteen_endless_scripts_at_once_each_fail_at_the_time_bound(serve: Callable[..., Baton]) -> None:
    baton = serve({"BATON_SCRIPT_TIMEOUT_MS": str(SHORT_SCRIPT_BOUND_MS)})
    client = baton.client
    register(client, workflow("hostile_spin", [inline("spin", "while(true){}")]))

    def start_one(_: int) -> str:
        response = call(client, "POST", "/api/workflow/hostile_spin", json={}, timeout=30)
        assert response.status_code == 200, response.text
        return response.text

    with HealthProber(baton.server.url) as prober:
        with ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(start_one, range(16)))
        runs = [wait_for_end(client, workflow_id, timeout=40) for workflow_id in ids]
    prober.assert_worst_below(HEALTH_BOUND)
    for run in runs:
        spin = task_of(run, "spin")
        assert (run["status"], spin["status"]) == ("FAILED", "FAILED"), reasons(run)
        assert f"INLINE 'spin' exceeded {SHORT_SCRIPT_BOUND_MS} ms" in spin["reasonForIncompletion"], reasons(run)
    assert_normal_run(client)


# 5. Wide forks ---------------------------------------------------------------------------------------------------

FAN = workflow(
    "hostile_fan",
    [
        {
            "name": "fan",
            "taskReferenceName": "fan",
            "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {"forkTaskName": "hostile_branch", "forkTaskInputs": "${workflow.input.items}"},
        },
        {"name": "fan_in", "taskReferenceName": "fan_in", "type": "JOIN"},
    ],
)


def _queued_branches(client: httpx.Client) -> int:
    response = call(client, "GET", "/api/tasks/queue/sizes", params={"taskType": "hostile_branch"})
    assert response.status_code == 200, response.text
    sizes: dict[str, int] = response.json()
    return sizes.get("hostile_branch", 0)


def _wait_fanned_out_or_ended(client: httpx.Client, workflow_id: str, branches: int, timeout: float) -> str:
    """``queued`` once every branch is in the queue, else the run's status once it ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = get_run(client, workflow_id, include_tasks=False)["status"]
        if status != "RUNNING":
            return str(status)
        if _queued_branches(client) == branches:
            return "queued"
        time.sleep(0.1)
    raise AssertionError(f"the {branches}-branch fork neither fanned out nor ended in {timeout:.0f} s")


def _terminate(client: httpx.Client, workflow_id: str) -> None:
    response = call(client, "DELETE", f"/api/workflow/{workflow_id}", params={"reason": "hostile test"}, timeout=30)
    assert response.status_code in (200, 204), response.text
    deadline = time.monotonic() + 60
    while (status := get_run(client, workflow_id, include_tasks=False)["status"]) != "TERMINATED":
        assert status == "RUNNING", status
        assert time.monotonic() < deadline, f"run {workflow_id} is still {status} 60 s after its termination"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_fork_of_100000_branches_is_refused_or_run_without_stalling_the_server(own_baton: Baton) -> None:
    client = own_baton.client
    register(client, FAN)
    with HealthProber(own_baton.server.url) as prober:
        workflow_id = start(client, "hostile_fan", {"items": [{}] * 100_000})
        outcome = _wait_fanned_out_or_ended(client, workflow_id, 100_000, timeout=90)
        if outcome == "queued":
            _terminate(client, workflow_id)
    prober.assert_worst_below(HEALTH_BOUND)
    if outcome != "queued":
        run = get_run(client, workflow_id)
        fan = task_of(run, "fan")
        assert (outcome, fan["status"]) == ("FAILED", "FAILED_WITH_TERMINAL_ERROR"), reasons(run)
        assert "more than max_fork_width (20000)" in fan["reasonForIncompletion"], reasons(run)
    assert_normal_run(client)


@pytest.mark.slow
def test_a_fork_of_20000_branches_starts_and_terminates_without_stalling_the_server(own_baton: Baton) -> None:
    client = own_baton.client
    register(client, FAN)
    with HealthProber(own_baton.server.url) as prober:
        workflow_id = start(client, "hostile_fan", {"items": [{}] * 20_000})
        outcome = _wait_fanned_out_or_ended(client, workflow_id, 20_000, timeout=60)
        assert outcome == "queued", f"the 20,000-branch fork ended {outcome}: " + reasons(get_run(client, workflow_id))
        fanned_out = time.monotonic()
        prober.assert_worst_below(FAN_OUT_HEALTH_BOUND)
        _terminate(client, workflow_id)
    prober.assert_worst_below(HEALTH_BOUND, since=fanned_out)
    assert _queued_branches(client) == 0
    assert_normal_run(client)


# 6. A loop that never ends --------------------------------------------------------------------------------------


def test_an_endless_loop_fails_at_a_bound(baton: Baton) -> None:
    client = baton.client
    loop = {
        "name": "forever",
        "taskReferenceName": "forever",
        "type": "DO_WHILE",
        "loopCondition": "true",
        "loopOver": [inline("step", "1")],
    }
    register(client, workflow("hostile_forever", [loop]))
    with HealthProber(baton.server.url) as prober:
        response = call(client, "POST", "/api/workflow/hostile_forever", json={}, timeout=30)
        assert response.status_code == 200, response.text
        run = wait_for_end(client, response.text, timeout=60)
    assert baton.watch.killed is None, baton.watch.killed
    prober.assert_worst_below(HEALTH_BOUND)
    assert run["status"] == "FAILED", reasons(run)
    bound = re.compile(r"max_loop_iterations|max_steps_per_decision|steps per decision|\b10,?000\b|\b2,?000\b")
    assert bound.search(reasons(run)), reasons(run)
    assert_normal_run(client)


# 7. Bad input: a 400 naming the field, nothing stored ---------------------------------------------------------


def _assert_refused(response: httpx.Response, *fields: str) -> None:
    """A 400 whose message or validation errors name one of ``fields``."""
    assert response.status_code == 400, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    named = [str(body.get("message", ""))] + [str(e.get("path", "")) for e in body.get("validationErrors") or []]
    assert any(field in text for field in fields for text in named), f"{fields} not named in {body}"


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _names(client: httpx.Client, path: str) -> list[str]:
    response = call(client, "GET", path)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()]


_JSON = {"content-type": "application/json"}


def _deep_definition(client: httpx.Client) -> None:
    text = json.dumps(workflow("hostile_deep", [inline("calc", "1", deep="DEEP")])).replace('"DEEP"', _nested(1000))
    _assert_refused(
        call(client, "POST", "/api/metadata/workflow", content=text, headers=_JSON), "body", "inputParameters"
    )
    assert call(client, "GET", "/api/metadata/workflow/hostile_deep").status_code == 404


def _deep_input(client: httpx.Client) -> None:
    text = '{"x": ' + _nested(1000) + "}"
    _assert_refused(call(client, "POST", "/api/workflow/hostile_target", content=text, headers=_JSON), "body", "input")
    hits = call(client, "GET", "/api/workflow/search", params={"query": "workflowType = hostile_target"})
    assert hits.status_code == 200 and hits.json()["totalHits"] == 0, hits.text


def _deep_query(client: httpx.Client) -> None:
    query = "(" * 500 + "status = RUNNING" + ")" * 500
    _assert_refused(call(client, "GET", "/api/workflow/search", params={"query": query}), "query")


def _huge_start(client: httpx.Client) -> None:
    for offset in ("1e30", str(10**30)):
        _assert_refused(call(client, "GET", "/api/workflow/search", params={"start": offset}), "start")


def _nul_workflow_name(client: httpx.Client) -> None:
    named = workflow("hostile\u0000name", [inline("calc", "1")])
    _assert_refused(call(client, "POST", "/api/metadata/workflow", json=named), "name")
    assert call(client, "GET", "/api/metadata/workflow/hostile%00name").status_code in (400, 404)
    assert not [n for n in _names(client, "/api/metadata/workflow") if "\x00" in n]


def _nul_task_def_name(client: httpx.Client) -> None:
    task_defs = [{"name": "hostile\u0000task", "retryCount": 0}]
    _assert_refused(call(client, "POST", "/api/metadata/taskdefs", json=task_defs), "name")
    assert call(client, "GET", "/api/metadata/taskdefs/hostile%00task").status_code in (400, 404)
    assert not [n for n in _names(client, "/api/metadata/taskdefs") if "\x00" in n]


BAD_INPUTS = [_deep_definition, _deep_input, _deep_query, _huge_start, _nul_workflow_name, _nul_task_def_name]


def test_bad_input_gets_a_400_naming_the_field_and_stores_nothing(baton: Baton) -> None:
    client = baton.client
    register(client, workflow("hostile_target", [inline("calc", "1")]))
    failures: list[str] = []
    with HealthProber(baton.server.url) as prober:
        for case in BAD_INPUTS:  # every case is tried, and all that fail are reported together
            try:
                case(client)
            except AssertionError as exc:
                failures.append(f"{case.__name__[1:]}: {exc}")
    assert not failures, "\n".join(failures)
    prober.assert_worst_below(HEALTH_BOUND)
    assert_normal_run(client)


# 8. Connections that go away or stall mid-body -------------------------------------------------------------------


def test_clients_disconnecting_mid_body_cost_a_few_log_lines_each(baton: Baton) -> None:
    register(baton.client, workflow("hostile_target", [inline("calc", "1")]))
    before = baton.server.log()
    with HealthProber(baton.server.url) as prober:
        send_half_bodies(baton.server.port, "/api/workflow/hostile_target", clients=200)
        time.sleep(1.0)  # the server notices the last of them going away
    prober.assert_worst_below(HEALTH_BOUND)
    added = baton.server.log()[len(before) :]
    assert "Traceback" not in added, added[-3000:]
    assert len(added.splitlines()) <= 2 * 200, f"{len(added.splitlines())} log lines for 200 clients:\n{added[-2000:]}"
    assert_normal_run(baton.client)


def test_a_body_that_stalls_gets_408_or_a_closed_connection_after_the_body_read_timeout(
    serve: Callable[..., Baton],
) -> None:
    baton = serve(env={"BATON_BODY_READ_TIMEOUT_MS": "500"})
    register(baton.client, workflow("hostile_target", [inline("calc", "1")]))
    with HealthProber(baton.server.url) as prober:
        elapsed, outcome = stall_mid_body(baton.server.port, "/api/workflow/hostile_target", wait=5.0)
    prober.assert_worst_below(HEALTH_BOUND)
    assert outcome in ("closed", "reset") or outcome.startswith("HTTP/1.1 408"), f"{outcome} after {elapsed:.1f} s"
    assert 0.4 <= elapsed < 5.0, f"{outcome} after {elapsed:.2f} s (body read timeout 0.5 s)"
    assert_normal_run(baton.client)
