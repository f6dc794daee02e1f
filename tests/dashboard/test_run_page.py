"""A run's page in a real browser against a real ``baton serve``: it brings itself up to date while the run goes
on, draws a timeline bar per task, shows a step's attempts and logs, and acts on steps (retry a failed run, complete
a HUMAN step with JSON, rerun from a step, skip a step), each asking first; what a VIEWER cannot do, and the 400s
that name their field."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from playwright.sync_api import Page, Route, expect

from tests.access.helpers import key_headers, make_key
from tests.conftest import ServerProcess
from tests.dashboard.conftest import log_in, screenshot, wait_for_task
from tests.dashboard.steps import inline, route_by_kind
from tests.helpers import (
    SHARED_TLS,
    fail,
    register,
    run_of,
    start,
    statuses,
    take,
    task_defs,
    unique,
    wait_for,
    work_one,
)


def _ended(run: dict[str, Any]) -> bool:
    return run["status"] not in ("RUNNING", "PAUSED")


def _task(run: dict[str, Any], ref: str) -> dict[str, Any]:
    return [task for task in run["tasks"] if task["referenceTaskName"] == ref][-1]


def _accept_confirmations(page: Page) -> list[str]:
    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return questions


def test_a_failed_run_is_retried_from_its_page_and_the_page_follows_it_to_the_end(
    server: ServerProcess, page: Page
) -> None:
    name, work = unique("page_retry"), unique("page_work")
    with server.client() as client:
        task_defs(client, {"name": work, "retryCount": 0, "retryDelaySeconds": 0})
        register(
            client,
            {
                "name": name,
                "version": 1,
                "tasks": [
                    {"name": work, "taskReferenceName": "work", "type": "SIMPLE", "inputParameters": {"value": 21}},
                    inline("after", "$.doubled + 1", doubled="${work.output.doubled}"),
                ],
                "outputParameters": {"answer": "${after.output.result}"},
            },
        )
        workflow_id = start(client, name)
        failed = take(client, work)
        assert client.post(f"/api/tasks/{failed['taskId']}/log", json="first try: out of coffee").status_code == 200
        fail(client, failed, "out of coffee")
        wait_for(client, workflow_id, _ended)
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/runs/{workflow_id}")
    expect(page.locator("#run-status")).to_have_text("FAILED")
    expect(page.locator(".timeline .bar")).to_have_count(1)
    questions = _accept_confirmations(page)

    page.click("button.action-retry")
    page.wait_for_url(re.compile(r".*\?done=retry$"))
    assert questions == [f"Retry run {workflow_id}?"]
    expect(page.locator("#run-status")).to_have_text("RUNNING")
    page.evaluate("window.stillTheSamePage = true")
    with server.client() as client:
        work_one(client, work, {"doubled": 42})
        wait_for(client, workflow_id, _ended)
        assert run_of(client, workflow_id)["output"] == {"answer": 43}

    # The page brought itself up to date, without a reload: the status, the graph, the timeline, the output.
    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.locator("svg .node[data-ref='after']")).to_have_attribute("data-status", "COMPLETED")
    expect(page.locator(".timeline .bar")).to_have_count(3)
    expect(page.locator(".timeline .bar[data-ref='work']")).to_have_count(2)
    expect(page.locator("#run-output")).to_contain_text('"answer": 43')

    page.click("svg .node[data-ref='work']")
    detail = page.locator(".step-detail:not([hidden])")
    expect(detail.locator("h2")).to_contain_text("work")
    expect(detail.locator(".step-worker")).to_have_text("test-worker")
    attempts = detail.locator("table.attempts tbody tr")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("FAILED")
    expect(attempts.nth(0)).to_contain_text("out of coffee")
    expect(attempts.nth(1)).to_contain_text("COMPLETED")

    # The failed attempt, opened from its timeline bar, and its logs read when unfolded.
    page.locator(".timeline .bar[data-ref='work']").first.click()
    detail = page.locator(f"#detail-{failed['taskId']}")
    expect(detail).to_be_visible()
    detail.locator("details.logs summary").click()
    expect(detail.locator(".task-logs li")).to_contain_text("first try: out of coffee")


BY = "${approve.output.by}"


def _human_workflow(client: httpx.Client) -> str:
    name = unique("page_human")
    register(
        client,
        {
            "name": name,
            "version": 1,
            "tasks": [
                inline("prepare", "'ready'"),
                {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
                inline(
                    "after",
                    "$.decision + ' by ' + $.by",
                    decision="${approve.output.decision}",
                    by="${approve.output.by}",
                ),
            ],
            "outputParameters": {"verdict": "${after.output.result}"},
        },
    )
    return name


def test_a_human_step_is_completed_from_the_page_with_json(server: ServerProcess, page: Page) -> None:
    with server.client() as client:
        workflow_id = start(client, _human_workflow(client), {"claim": {"amount": 1200, "items": ["a", "b"]}})
        wait_for_task(client, workflow_id, "approve")
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/runs/{workflow_id}")
    expect(page.locator("svg .node[data-ref='approve']")).to_have_attribute("data-status", "IN_PROGRESS")
    form = page.locator("form.complete-step[data-ref='approve']")
    expect(form).to_be_visible()
    expect(page.locator("#run-input")).to_contain_text('"amount": 1200')
    screenshot(page, "run-human")
    questions = _accept_confirmations(page)

    form.locator("textarea").fill('{"decision": "approved",')
    form.locator("button[type=submit]").click()
    expect(form.locator(".field-error[data-field='output']")).to_contain_text("output is not JSON")
    expect(form.locator("textarea")).to_have_value('{"decision": "approved",')
    with server.client() as client:
        assert statuses(run_of(client, workflow_id))["approve"] == "IN_PROGRESS"

    form.locator("textarea").fill('{"decision": "approved", "by": "ada"}')
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*\?done=complete$"))
    assert questions[-1] == "Complete step approve with this output?"
    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    expect(page.locator("#run-output")).to_contain_text('"verdict": "approved by ada"')
    expect(page.locator("form.complete-step")).to_have_count(0)
    with server.client() as client:
        run = run_of(client, workflow_id)
    assert run["status"] == "COMPLETED" and run["output"] == {"verdict": "approved by ada"}
    assert _task(run, "approve")["outputData"] == {"decision": "approved", "by": "ada"}


def _tab_hidden(page: Page, hidden: bool) -> None:
    """As when a person switches to another tab (``hidden``) and back."""
    page.evaluate(
        """hidden => {
            Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def test_the_live_refresh_waits_while_the_tab_is_hidden_and_stops_after_ten_minutes(
    server: ServerProcess, page: Page
) -> None:
    with server.client() as client:
        name = _human_workflow(client)
        hidden_run, long_run = start(client, name), start(client, name)
        wait_for_task(client, hidden_run, "approve")
        wait_for_task(client, long_run, "approve")
    log_in(page, server.url)
    polled: list[str] = []

    def note(route: Route) -> None:
        polled.append(route.request.url.rsplit("since=", 1)[-1])
        route.continue_()

    def poll_marked() -> None:
        """A poll of our own, answered: every poll the page sent before it has been noted by then."""
        page.evaluate("url => fetch(url).then(answer => answer.status)", f"/ui/runs/{hidden_run}/live?since=marker")

    page.route(re.compile(r".*/live\?since=.*"), note)
    page.clock.install()
    page.goto(f"{server.url}/ui/runs/{hidden_run}")
    expect(page.locator("#run-status")).to_have_text("RUNNING")
    _tab_hidden(page, True)
    poll_marked()
    polled.clear()
    with server.client() as client:
        completed = client.post(f"/api/tasks/{hidden_run}/approve/COMPLETED", json={"decision": "ok", "by": "api"})
        assert completed.is_success
        wait_for(client, hidden_run, _ended)
    page.clock.fast_forward("00:06")
    poll_marked()
    assert polled == ["marker"], "no poll while the tab is hidden"
    expect(page.locator("#run-status")).to_have_text("RUNNING")
    _tab_hidden(page, False)
    expect(page.locator("#run-status")).to_have_text("COMPLETED")

    page.goto(f"{server.url}/ui/runs/{long_run}")
    expired = page.locator("#live-expired")
    expect(expired).to_be_hidden()
    page.clock.fast_forward("10:05")
    expect(expired).to_be_visible()
    expect(expired.locator("a")).to_have_attribute("href", f"/ui/runs/{long_run}")


def test_a_finished_run_is_rerun_from_a_chosen_step(server: ServerProcess, page: Page) -> None:
    name = unique("page_rerun")
    with server.client() as client:
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
                        "forkTasks": [
                            [inline("left", "'L'")],
                            [
                                {
                                    "name": "pause",
                                    "taskReferenceName": "pause",
                                    "type": "WAIT",
                                    "inputParameters": {"duration": "1s"},
                                },
                                inline("right", "'R'"),
                            ],
                        ],
                    },
                    {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left", "right"]},
                    inline("first", "'one'"),
                    inline("second", "'two'"),
                ],
            },
        )
        workflow_id = start(client, name, {"kind": "fast", "note": {"nested": {"deep": [1, 2, 3]}}})
        before = wait_for(client, workflow_id, _ended)
    assert before["status"] == "COMPLETED"
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/runs/{workflow_id}")
    bars = page.locator(".timeline .bar")
    expect(bars).to_have_count(len(before["tasks"]))
    assert bars.evaluate_all("bars => bars.map(b => b.dataset.task)") == [t["taskId"] for t in before["tasks"]]
    expect(page.locator(".timeline .bar[data-status='COMPLETED'] rect.span")).to_have_count(len(before["tasks"]))
    expect(page.locator("#run-input details details")).to_have_count(3)  # note, nested, deep
    expect(page.locator("#run-input details details").first).not_to_have_attribute("open", "")
    page.click("svg .node[data-ref='right']")
    expect(page.locator(".step-detail:not([hidden]) .step-output")).to_contain_text('"result": "R"')
    screenshot(page, "run")
    questions = _accept_confirmations(page)

    second = _task(before, "second")
    page.select_option("#rerun-task", second["taskId"])
    page.click("button.action-rerun")
    page.wait_for_url(re.compile(r".*\?done=rerun$"))
    assert questions == [f"Rerun run {workflow_id} from the chosen step? The steps after it are removed."]
    with server.client() as client:
        after = wait_for(client, workflow_id, _ended)
    assert after["status"] == "COMPLETED"
    assert _task(after, "first")["endTime"] == _task(before, "first")["endTime"], "the steps before it are kept"
    assert _task(after, "second")["scheduledTime"] > second["endTime"], "the chosen step ran again"
    expect(page.locator("#run-status")).to_have_text("COMPLETED")


def test_a_scheduled_step_is_skipped_and_the_run_moves_on(server: ServerProcess, page: Page) -> None:
    name, nobody = unique("page_skip"), unique("nobody_works_this")
    with server.client() as client:
        register(
            client,
            {
                "name": name,
                "version": 1,
                "tasks": [{"name": nobody, "taskReferenceName": "stuck", "type": "SIMPLE"}, inline("after")],
            },
        )
        workflow_id = start(client, name)
        wait_for_task(client, workflow_id, "stuck")
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/runs/{workflow_id}")
    options = page.locator("#skip-ref option")
    expect(options).to_have_count(2)
    assert options.evaluate_all("os => os.map(o => o.value)") == ["after", "stuck"]
    questions = _accept_confirmations(page)
    page.select_option("#skip-ref", "stuck")
    page.click("button.action-skip")
    page.wait_for_url(re.compile(r".*\?done=skip$"))
    assert questions == [f"Skip the chosen step of run {workflow_id}?"]
    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    expect(page.locator("svg .node[data-ref='stuck']")).to_have_attribute("data-status", "SKIPPED")
    with server.client() as client:
        run = run_of(client, workflow_id)
    assert run["status"] == "COMPLETED"
    assert statuses(run) == {"stuck": "SKIPPED", "after": "COMPLETED"}


def test_a_viewer_sees_no_step_actions_and_its_forged_posts_are_refused(server: ServerProcess, page: Page) -> None:
    with server.client() as client:
        viewer = make_key(client, ["VIEWER"])
        workflow_id = start(client, _human_workflow(client))
        run = wait_for_task(client, workflow_id, "approve")
    log_in(page, server.url, viewer)
    page.goto(f"{server.url}/ui/runs/{workflow_id}")
    expect(page.locator("svg .node[data-ref='approve']")).to_have_attribute("data-status", "IN_PROGRESS")
    expect(page.locator("main form")).to_have_count(0)
    expect(page.locator("textarea")).to_have_count(0)

    csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    forged = {
        "complete": {"ref": "approve", "output": '{"decision": "mine"}'},
        "skip": {"ref": "approve"},
        "rerun": {"taskId": run["tasks"][0]["taskId"]},
    }
    for action, form in forged.items():
        refused = page.request.post(f"{server.url}/ui/runs/{workflow_id}/{action}", form={"csrf": csrf, **form})
        assert refused.status == 403 and "needs the OPERATOR role" in refused.text(), action
    with httpx.Client(base_url=server.url, headers=key_headers(viewer), verify=SHARED_TLS) as as_viewer:
        assert as_viewer.get(f"/ui/runs/{workflow_id}/live").status_code == 200
        logs = as_viewer.get(f"/ui/runs/{workflow_id}/tasks/{run['tasks'][0]['taskId']}/logs")
        assert logs.status_code == 200 and "has logged nothing" in logs.text
    with server.client() as client:
        assert statuses(run_of(client, workflow_id))["approve"] == "IN_PROGRESS"


def test_completing_a_step_with_bad_fields_is_a_400_naming_the_field(server: ServerProcess) -> None:
    with server.client() as client:
        workflow_id = start(client, _human_workflow(client))
        wait_for_task(client, workflow_id, "approve")
        url = f"/ui/runs/{workflow_id}/complete"
        for output, message in [("{nope", "output is not JSON"), ("[1, 2]", "output must be a JSON object")]:
            answer = client.post(url, data={"ref": "approve", "output": output})
            assert answer.status_code == 400, answer.text
            assert re.search(rf'data-field="output" role="alert">{message}', answer.text), answer.text
            assert f">{html.escape(output)}</textarea>" in answer.text, "what was typed is kept"
        missing = client.post(url, data={"output": "{}"})
        assert missing.status_code == 400 and "<code>ref</code> is required" in missing.text
        assert client.post(f"/ui/runs/{workflow_id}/rerun", data={}).status_code == 400
        assert statuses(run_of(client, workflow_id))["approve"] == "IN_PROGRESS"


def test_the_live_fragment_is_drawn_only_when_the_run_changed(server: ServerProcess) -> None:
    with server.client() as client:
        workflow_id = start(client, _human_workflow(client))
        wait_for_task(client, workflow_id, "approve")
        live = client.get(f"/ui/runs/{workflow_id}/live")
        assert live.status_code == 200 and 'data-finished="false"' in live.text and "<html" not in live.text
        found = re.search(r'data-fingerprint="(\w+)"', live.text)
        assert found is not None
        unchanged = client.get(f"/ui/runs/{workflow_id}/live", params={"since": found.group(1)})
        assert unchanged.status_code == 204 and unchanged.content == b"", "an unchanged run is not drawn again"
        assert client.post(
            f"/api/tasks/{workflow_id}/approve/COMPLETED", json={"decision": "no", "by": "api"}
        ).is_success
        wait_for(client, workflow_id, _ended)
        changed = client.get(f"/ui/runs/{workflow_id}/live", params={"since": found.group(1)})
        assert changed.status_code == 200 and 'data-finished="true"' in changed.text and "no by api" in changed.text
