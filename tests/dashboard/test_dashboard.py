"""The dashboard in a real browser against a real ``baton serve``: logging in and out, a run drawn as a graph with
its steps' statuses, terminating with a confirmation, and what a VIEWER and a forged form cannot do (the runs list
is ``test_runs_list.py``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.access.helpers import make_key
from tests.conftest import ServerProcess, fresh_database
from tests.dashboard.conftest import log_in, wait_for_task
from tests.dashboard.steps import inline, route_by_kind
from tests.helpers import ADMIN_KEY_ID, ADMIN_KEY_SECRET, SHARED_TLS, register, start, unique


def _graph_workflow(client: httpx.Client) -> tuple[str, str]:
    """A definition with a switch, a fork, a loop and a sub-workflow, ending at a worker step no one works: its
    runs stay RUNNING there. Returns its name and the worker step's task type."""
    child, name, wait_type = unique("dash_child"), unique("dash_graph"), unique("dash_wait")
    register(client, {"name": child, "version": 1, "tasks": [inline("child_step", ref="child_step")]})
    register(
        client,
        {
            "name": name,
            "version": 1,
            "tasks": [
                route_by_kind(),
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [[inline("left", ref="left")], [inline("right", ref="right")]],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left", "right"]},
                {
                    "name": "lp",
                    "taskReferenceName": "lp",
                    "type": "DO_WHILE",
                    "loopCondition": "$.lp['iteration'] < 3",
                    "loopOver": [inline("body", ref="body")],
                },
                {
                    "name": "sub",
                    "taskReferenceName": "sub",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": child, "version": 1},
                },
                {"name": wait_type, "taskReferenceName": "wait_here", "type": "SIMPLE"},
            ],
        },
    )
    return name, wait_type


def _waiting_run(client: httpx.Client, name: str) -> str:
    workflow_id = start(client, name, {"kind": "fast"})
    wait_for_task(client, workflow_id, "wait_here")
    return workflow_id


def _status(client: httpx.Client, workflow_id: str) -> str:
    status: str = client.get(f"/api/workflow/{workflow_id}", params={"includeTasks": "false"}).json()["status"]
    return status


def test_a_person_logs_in_with_a_key_and_out_again(server: ServerProcess, page: Page) -> None:
    answer = page.goto(f"{server.url}/")
    assert answer is not None and answer.status == 401 and page.url == f"{server.url}/ui/runs"
    page.fill("#keyId", ADMIN_KEY_ID)
    page.fill("#keySecret", "not-the-secret")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("Wrong key id or secret")
    assert page.context.cookies() == []

    log_in(page, server.url)
    expect(page.locator("h1")).to_have_text("Runs")
    expect(page.locator(".who .key")).to_contain_text("ADMIN")
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert cookie["value"].count(".") == 2, "the session holds a signed token"

    page.click("text=Log out")
    page.wait_for_url(f"{server.url}/ui/login")
    assert page.context.cookies() == []
    again = page.goto(f"{server.url}/ui/runs")
    assert again is not None and again.status == 401
    expect(page.locator("#keyId")).to_be_visible()


def test_a_session_ends_when_its_key_is_deleted(server: ServerProcess, page: Page) -> None:
    with server.client() as client:
        key_id, secret = make_key(client, ["OPERATOR"])
        application = client.get(f"/api/applications/key/{key_id}").json()["id"]
    log_in(page, server.url, (key_id, secret))
    expect(page.locator(".who .key")).to_contain_text(key_id)
    with server.client() as client:
        assert client.delete(f"/api/applications/{application}/accessKeys/{key_id}").status_code == 200
    answer = page.reload()
    assert answer is not None and answer.status == 401
    expect(page.get_by_role("alert")).to_contain_text("Your session has ended")
    assert page.context.cookies() == [], "the stale cookie is dropped"


def test_a_run_is_drawn_as_a_graph_with_its_steps_statuses(server: ServerProcess, page: Page) -> None:
    with server.client() as client:
        name, _ = _graph_workflow(client)
        workflow_id = _waiting_run(client, name)
        run = client.get(f"/api/workflow/{workflow_id}").json()
    child_id = next(task["subWorkflowId"] for task in run["tasks"] if task["referenceTaskName"] == "sub")
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/runs/{workflow_id}")

    def node(ref: str) -> Any:
        return page.locator(f"svg .node[data-ref='{ref}']")

    for ref in ("route", "fast_step", "fork", "left", "right", "join", "lp", "body", "sub"):
        expect(node(ref)).to_have_attribute("data-status", "COMPLETED")
    expect(node("slow_step")).to_have_attribute("data-status", "NOT_RUN")
    expect(node("wait_here")).to_have_attribute("data-status", "SCHEDULED")
    expect(page.locator("svg text.case.taken")).to_have_text("fast ✓")
    expect(page.locator("svg text.case:not(.taken)")).to_have_text(["slow", "default"])
    expect(node("lp")).to_contain_text("3 iterations")
    expect(page.locator("svg .loop-frame")).to_have_count(1)
    expect(page.locator("#run-status")).to_have_text("RUNNING")

    node("fast_step").click()
    detail = page.locator(".step-detail:not([hidden])")
    expect(detail.locator("h2")).to_contain_text("fast_step")
    expect(detail.locator(".step-input")).to_contain_text('"ref": "fast_step"')
    expect(detail.locator(".step-output")).to_contain_text('"result": "done"')
    node("slow_step").click()
    expect(page.locator(".step-detail:not([hidden])")).to_contain_text("This step has not run")
    expect(page.locator("#run-input")).to_contain_text('"kind": "fast"')

    node("sub").locator("a.child-run").click()
    page.wait_for_url(f"{server.url}/ui/runs/{child_id}")
    expect(page.locator("svg .node[data-ref='child_step']")).to_have_attribute("data-status", "COMPLETED")
    expect(page.locator("#run-status")).to_have_text("COMPLETED")


def test_terminate_asks_first_then_ends_the_run(server: ServerProcess, page: Page) -> None:
    with server.client() as client:
        name, _ = _graph_workflow(client)
        workflow_id = _waiting_run(client, name)
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/runs/{workflow_id}")
    questions: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("button.action-terminate")
    expect(page.locator("#run-status")).to_have_text("RUNNING")
    assert questions == [f"Terminate run {workflow_id}?"]
    with server.client() as client:
        assert _status(client, workflow_id) == "RUNNING"

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.action-terminate")
    page.wait_for_url(re.compile(r".*\?done=terminate$"))
    expect(page.locator("#run-status")).to_have_text("TERMINATED")
    expect(page.locator("button.action-retry")).to_be_visible()
    with server.client() as client:
        assert _status(client, workflow_id) == "TERMINATED"


def test_pause_resume_retry_and_restart_act_on_the_run(server: ServerProcess, page: Page) -> None:
    with server.client() as client:
        name, _ = _graph_workflow(client)
        workflow_id = _waiting_run(client, name)
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/runs/{workflow_id}")
    page.on("dialog", lambda dialog: dialog.accept())
    for action, status in [
        ("pause", "PAUSED"),
        ("resume", "RUNNING"),
        ("terminate", "TERMINATED"),
        ("retry", "RUNNING"),
        ("terminate", "TERMINATED"),
        ("restart", "RUNNING"),
    ]:
        page.click(f"button.action-{action}")
        page.wait_for_url(re.compile(rf".*\?done={action}$"))
        expect(page.locator("#run-status")).to_have_text(status)
        with server.client() as client:
            assert _status(client, workflow_id) == status, action
    with server.client() as client:
        restarted = wait_for_task(client, workflow_id, "wait_here")
    assert [task["referenceTaskName"] for task in restarted["tasks"]].count("route") == 1, "restarted afresh"


def test_a_viewer_sees_no_actions_and_its_forged_post_is_refused(server: ServerProcess, page: Page) -> None:
    with server.client() as client:
        viewer = make_key(client, ["VIEWER"])
        name, _ = _graph_workflow(client)
        workflow_id = _waiting_run(client, name)
    log_in(page, server.url, viewer)
    expect(page.locator(".who .key")).to_contain_text("VIEWER")
    page.goto(f"{server.url}/ui/runs/{workflow_id}")
    expect(page.locator("svg .node[data-ref='wait_here']")).to_be_visible()
    expect(page.locator("button.action-terminate")).to_have_count(0)
    expect(page.locator(".actions")).to_have_count(0)

    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    forged = page.request.post(f"{server.url}/ui/runs/{workflow_id}/terminate", form={"csrf": csrf or ""})
    assert forged.status == 403 and "needs the OPERATOR role" in forged.text()
    with server.client() as client:
        assert _status(client, workflow_id) == "RUNNING"


def test_an_action_without_the_sessions_csrf_token_is_refused(server: ServerProcess, page: Page) -> None:
    with server.client() as client:
        name, _ = _graph_workflow(client)
        workflow_id = _waiting_run(client, name)
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/runs/{workflow_id}")
    url = f"{server.url}/ui/runs/{workflow_id}/terminate"
    for form in ({}, {"csrf": "0" * 64}):
        refused = page.request.post(url, form=form)
        assert refused.status == 403 and "CSRF" in refused.text()
    with server.client() as client:
        assert _status(client, workflow_id) == "RUNNING"
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    accepted = page.request.post(url, form={"csrf": csrf or ""}, max_redirects=0)
    assert accepted.status == 303
    with server.client() as client:
        assert _status(client, workflow_id) == "TERMINATED"


def test_logging_in_without_a_field_is_a_400_naming_it(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, verify=SHARED_TLS) as client:
        answer = client.post("/ui/login", data={"keyId": ADMIN_KEY_ID})
    assert answer.status_code == 400 and "<code>keySecret</code>" in answer.text
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize("path", ["/", "/ui", "/ui/"])
def test_the_dashboard_is_found_at_the_root_and_its_prefix(server: ServerProcess, path: str) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=True, verify=SHARED_TLS) as client:
        answer = client.get(path)
    assert str(answer.url) == f"{server.url}/ui/runs"
    assert answer.status_code == 401 and 'name="keySecret"' in answer.text


def test_a_login_sent_from_another_site_is_refused(server: ServerProcess) -> None:
    key = {"keyId": ADMIN_KEY_ID, "keySecret": ADMIN_KEY_SECRET}
    with httpx.Client(base_url=server.url, verify=SHARED_TLS) as client:
        forged = client.post("/ui/login", data=key, headers={"Origin": "http://elsewhere.example"})
        assert forged.status_code == 403 and "set-cookie" not in forged.headers
        own = client.post("/ui/login", data=key, headers={"Origin": server.url})
        assert own.status_code == 303 and "baton_session=" in own.headers["set-cookie"]


def test_with_auth_off_the_dashboard_lets_everyone_in_and_says_so(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        process = ServerProcess(url, tmp_path / "server.log", ["--no-auth"])
        process.start()
        try:
            with httpx.Client(base_url=process.url, follow_redirects=True, verify=SHARED_TLS) as client:
                runs = client.get("/")
                assert runs.status_code == 200 and str(runs.url) == f"{process.url}/ui/runs"
                assert "Auth is off (--no-auth)" in runs.text and "Log out" not in runs.text
                assert "no key is needed" in client.get("/ui/login").text
        finally:
            process.stop()


def test_a_run_is_started_from_a_form_of_the_declared_inputs(server: ServerProcess, page: Page) -> None:
    name = unique("dash_start")
    inputs = [
        {"name": "amount", "type": "Int32", "required": True, "displayName": "Amount"},
        {"name": "customer", "type": "String"},
        {"name": "express", "type": "Boolean"},
        {"name": "items", "type": "String", "isArray": True},
    ]
    doubled = inline("double", "$.amount * 2")
    doubled["inputParameters"]["amount"] = "${workflow.input.amount}"
    with server.client() as client:
        register(client, {"name": name, "version": 1, "inputs": inputs, "tasks": [doubled]})
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/runs?workflowType={name}")
    page.click("a.start-link")
    page.wait_for_url(f"{server.url}/ui/start/{name}")

    page.click("form.start button[type=submit]")
    expect(page.locator(".field-error[data-field='input.amount']")).to_contain_text("is required")
    page.fill("#in-amount", "lots")
    page.fill("#in-customer", "Ada")
    page.click("form.start button[type=submit]")
    expect(page.locator(".field-error[data-field='input.amount']")).to_contain_text("must be a whole number")
    expect(page.locator("#in-customer")).to_have_value("Ada")

    page.fill("#in-amount", "21")
    page.select_option("#in-express", "true")
    page.fill("#in-items", '["a", "b"]')
    page.fill("#in-correlationId", f"{name}-form")
    page.click("form.start button[type=submit]")
    page.wait_for_url(re.compile(rf"{re.escape(server.url)}/ui/runs/[^/?]+$"))
    workflow_id = page.url.rsplit("/", 1)[-1]
    with server.client() as client:
        run = client.get(f"/api/workflow/{workflow_id}", params={"includeTasks": "false"}).json()
    assert run["input"] == {"amount": 21, "customer": "Ada", "express": True, "items": ["a", "b"]}
    assert run["correlationId"] == f"{name}-form"
    for _ in range(100):
        if page.locator("#run-status").inner_text() == "COMPLETED":
            break
        page.wait_for_timeout(100)
        page.reload()
    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    expect(page.locator("svg .node[data-ref='double']")).to_have_attribute("data-status", "COMPLETED")
