"""Definitions and starting a run in a real browser against a real ``baton serve``: the list with versions, a
version drawn as a graph, registering from the JSON editor (and what it refuses, at the field, storing nothing),
the diff between two versions, what a VIEWER cannot do, and the start form with version, correlation id,
priority and idempotency key beside the curl of each way in, each curl run as shown."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import httpx
import msgspec
from playwright.sync_api import Page, expect

from baton.api.dashboard.definitions import diff_lines
from baton.api.dashboard.editor import definition_json
from baton.api.dashboard.graph import definition_graph
from baton.api.dashboard.json_places import place_of
from baton.model import WorkflowDef
from tests.access.helpers import make_key
from tests.conftest import ServerProcess
from tests.dashboard.conftest import log_in, screenshot
from tests.dashboard.steps import inline, route_by_kind
from tests.helpers import ADMIN_HEADERS, register, unique


def _branching(name: str, version: int, description: str) -> dict[str, Any]:
    """A definition with a switch and a fork: eight steps in all."""
    return {
        "name": name,
        "version": version,
        "description": description,
        "tasks": [
            inline("prepare"),
            route_by_kind(slow_by_default=True),
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [[inline("left")], [inline("right")]],
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left", "right"]},
        ],
    }


def _stored(client: httpx.Client, name: str, version: int) -> httpx.Response:
    return client.get(f"/api/metadata/workflow/{name}", params={"version": version})


def test_the_list_shows_each_version_and_a_version_is_drawn_as_a_graph(server: ServerProcess, page: Page) -> None:
    name = unique("defs_graph")
    with server.client() as client:
        register(client, {"name": name, "version": 1, "description": "the first", "tasks": [inline("prepare")]})
        register(client, _branching(name, 2, "with a switch and a fork"))
    log_in(page, server.url)
    page.click("header nav >> text=Definitions")
    entry = page.locator(f"section.definition-entry[data-definition='{name}']")
    expect(entry.locator("tr[data-version]")).to_have_count(2)
    assert entry.locator("tr[data-version]").evaluate_all("rows => rows.map(r => r.dataset.version)") == ["2", "1"]
    expect(entry.locator("tr[data-version='2'] .description")).to_have_text("with a switch and a fork")
    expect(entry.locator("tr[data-version='2'] .steps")).to_have_text("8")
    expect(entry.locator("tr[data-version='1'] .steps")).to_have_text("1")
    expect(entry.locator("tr[data-version='1'] a.start-version")).to_have_attribute(
        "href", f"/ui/start/{name}?version=1"
    )
    entry.scroll_into_view_if_needed()
    screenshot(page, "definitions")

    entry.get_by_role("link", name="v2", exact=True).click()
    page.wait_for_url(f"{server.url}/ui/definitions/{name}/2")
    nodes = page.locator("svg .node")
    expect(nodes).to_have_count(8)
    refs = set(nodes.evaluate_all("nodes => nodes.map(n => n.dataset.ref)"))
    assert refs == {"prepare", "route", "fast_step", "slow_step", "fork", "left", "right", "join"}
    assert set(nodes.evaluate_all("nodes => nodes.map(n => n.dataset.status)")) == {"NOT_RUN"}
    expect(page.locator("svg text.case")).to_have_text(["fast", "default"])
    page.locator("svg .node[data-ref='route']").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".step-detail:not([hidden]) .step-json")).to_contain_text('"evaluatorType": "value-param"')
    assert json.loads(page.locator("#definition-json").inner_text())["description"] == "with a switch and a fork"
    expect(page.locator(".version-links a")).to_have_text(["v1"])
    screenshot(page, "definition")
    page.click(".version-links a")
    page.wait_for_url(f"{server.url}/ui/definitions/{name}/1")
    expect(page.locator("svg .node")).to_have_count(1)


def test_a_new_version_is_registered_from_the_editor(server: ServerProcess, page: Page) -> None:
    name = unique("defs_edit")
    with server.client() as client:
        register(client, {"name": name, "version": 1, "description": "before", "tasks": [inline("prepare")]})
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/definitions/{name}/1")
    page.click("text=New version")
    page.wait_for_url(f"{server.url}/ui/definitions/new?from={name}")
    editor = page.locator("#definition-text")
    typed = json.loads(editor.input_value())
    assert typed["version"] == 2 and typed["name"] == name and "createTime" not in typed
    typed["description"] = "after"
    typed["tasks"].append(inline("finish"))
    editor.fill(json.dumps(typed, indent=2))
    page.click("form.editor button[type=submit]")
    page.wait_for_url(f"{server.url}/ui/definitions/{name}/2?registered=1")
    expect(page.locator(".notice")).to_have_text(f"Registered: {name} version 2.")
    expect(page.locator("svg .node")).to_have_count(2)
    with server.client() as client:
        stored = _stored(client, name, 2).json()
    assert stored["description"] == "after"
    assert [task["taskReferenceName"] for task in stored["tasks"]] == ["prepare", "finish"]
    page.goto(f"{server.url}/ui/definitions")
    entry = page.locator(f"section.definition-entry[data-definition='{name}']")
    expect(entry.locator("tr[data-version='2'] .description")).to_have_text("after")

    page.goto(f"{server.url}/ui/definitions/new?from={name}")
    page.locator("#definition-text").fill(json.dumps({**typed, "version": 2, "description": "again"}))
    page.click("form.editor button[type=submit]")
    expect(page.locator(".field-error[data-field='version']")).to_contain_text(f"{name}.2 already exists")
    page.check("input[name=overwrite]")
    page.click("form.editor button[type=submit]")
    page.wait_for_url(f"{server.url}/ui/definitions/{name}/2?registered=1")
    with server.client() as client:
        assert _stored(client, name, 2).json()["description"] == "again"


def test_a_bad_definition_is_shown_at_its_fields_with_the_text_kept_and_nothing_stored(
    server: ServerProcess, page: Page
) -> None:
    name = unique("defs_bad")
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/definitions")
    page.click("a.new-definition")
    page.wait_for_url(f"{server.url}/ui/definitions/new")
    bad = {
        "name": name,
        "version": 1,
        "tasks": [inline("first"), {"name": "second", "taskReferenceName": "", "type": "SIMPLE"}],
    }
    text = json.dumps(bad, indent=2)
    page.locator("#definition-text").fill(text)
    page.click("form.editor button[type=submit]")
    problem = page.locator(".field-error[data-field='tasks[1].taskReferenceName']")
    expect(problem).to_contain_text("must not be empty")
    expect(problem.locator("code.path")).to_have_text("tasks[1].taskReferenceName")
    expect(page.locator("#definition-text")).to_have_value(text)
    expect(page.locator("#definition-text")).to_have_attribute("aria-invalid", "true")
    at = text.index('"taskReferenceName": ""')
    line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
    expect(problem.locator("button.go-to")).to_have_text(f"Go to line {line}, column {column}")
    problem.locator("button.go-to").click()
    caret = page.locator("#definition-text").evaluate("area => area.selectionStart")
    assert text[caret:].startswith('"taskReferenceName": ""')
    screenshot(page, "definition-editor")

    broken = '{\n  "name": "x",\n  "tasks": [\n    {"name": "a" "taskReferenceName": "a"}\n  ]\n}'
    page.locator("#definition-text").fill(broken)
    page.click("form.editor button[type=submit]")
    problem = page.locator(".field-error[data-field='definition']")
    expect(problem).to_contain_text("is not JSON at line 4, column 18: Expecting ',' delimiter")
    expect(page.locator("#definition-text")).to_have_value(broken)
    problem.locator("button.go-to").click()
    caret = page.locator("#definition-text").evaluate("area => area.selectionStart")
    assert broken[:caret].endswith('{"name": "a" ')

    page.locator("#definition-text").fill(json.dumps({**bad, "tasks": [{**inline("a"), "type": 5}]}))
    page.click("form.editor button[type=submit]")
    expect(page.locator(".field-error[data-field='tasks[0].type']")).to_contain_text("Expected `str`")
    with server.client() as client:
        assert _stored(client, name, 1).status_code == 404
        assert _stored(client, "x", 1).status_code == 404


def test_the_diff_marks_the_lines_that_changed(server: ServerProcess, page: Page) -> None:
    name = unique("defs_diff")
    with server.client() as client:
        register(client, _branching(name, 1, "the old words"))
        register(client, _branching(name, 2, "the new words"))
        register(client, _branching(name, 3, "the new words"))
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/definitions/{name}/2")
    page.click("text=Compare with v1")
    page.wait_for_url(f"{server.url}/ui/definitions/{name}/diff?from=1&to=2")
    removed, added = page.locator("tr.diff-removed"), page.locator("tr.diff-added")
    expect(removed.locator("td.text")).to_have_text(['  "version": 1,', '  "description": "the old words"'])
    expect(added.locator("td.text")).to_have_text(['  "version": 2,', '  "description": "the new words"'])
    expect(removed.locator("td.sign")).to_contain_text(["removed", "removed"])
    expect(added.locator("td.sign")).to_contain_text(["added", "added"])
    old_line, new_line = removed.last.locator("td.number"), added.last.locator("td.number")
    expect(old_line.first).not_to_have_text("")
    expect(old_line.last).to_have_text("")
    expect(new_line.first).to_have_text("")
    expect(new_line.last).to_have_text(old_line.first.inner_text())
    expect(page.locator("tr.diff-same").first).to_be_visible()
    screenshot(page, "definition-diff")

    page.select_option("select[name=from]", "2")
    page.select_option("select[name=to]", "3")
    page.click("form.diff-choice button[type=submit]")
    page.wait_for_url(f"{server.url}/ui/definitions/{name}/diff?from=2&to=3")
    expect(page.locator("tr.diff-removed td.text")).to_have_text(['  "version": 2,'])
    expect(page.locator("tr.diff-added td.text")).to_have_text(['  "version": 3,'])


def test_a_viewer_sees_no_editor_and_its_register_is_refused(server: ServerProcess, page: Page) -> None:
    name = unique("defs_viewer")
    with server.client() as client:
        viewer = make_key(client, ["VIEWER"])
        register(client, {"name": name, "version": 1, "tasks": [inline("prepare")]})
    log_in(page, server.url, viewer)
    page.goto(f"{server.url}/ui/definitions")
    expect(page.locator(f"section.definition-entry[data-definition='{name}']")).to_be_visible()
    expect(page.locator("a.new-definition")).to_have_count(0)
    expect(page.locator("text=New version")).to_have_count(0)
    page.goto(f"{server.url}/ui/definitions/{name}/1")
    expect(page.locator("svg .node")).to_have_count(1)
    expect(page.locator("text=New version")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    refused = page.goto(f"{server.url}/ui/definitions/new")
    assert refused is not None and refused.status == 403
    expect(page.locator("#definition-text")).to_have_count(0)

    text = json.dumps({"name": name, "version": 2, "tasks": [inline("prepare")]})
    forged = page.request.post(f"{server.url}/ui/definitions/new", form={"csrf": csrf or "", "definition": text})
    assert forged.status == 403 and "DEFINE" in forged.text()
    with server.client() as client:
        assert _stored(client, name, 2).status_code == 404


def _trigger_definition(name: str, path: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "request",
                "taskReferenceName": "request",
                "type": "HTTP_ENDPOINT",
                "inputParameters": {"path": path, "methods": ["POST"], "canStartWorkflow": True},
            },
            inline("after"),
        ],
    }


def test_a_run_is_started_with_version_correlation_priority_and_key(server: ServerProcess, page: Page) -> None:
    name = unique("defs_start")
    inputs = [{"name": "amount", "type": "Int32", "required": True}]
    with server.client() as client:
        register(client, {"name": name, "version": 1, "inputs": inputs, "tasks": [inline("one")]})
        register(client, {"name": name, "version": 2, "tasks": [inline("two")]})
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/definitions/{name}/2")
    page.click("text=Start a run of v2")
    page.wait_for_url(f"{server.url}/ui/start/{name}?version=2")
    expect(page.locator("#in-input")).to_be_visible()
    page.select_option("#in-version", "1")
    page.wait_for_url(f"{server.url}/ui/start/{name}?version=1")
    key = unique("key")

    def fill_and_start() -> str:
        page.fill("#in-amount", "12")
        page.fill("#in-correlationId", f"{name}-c")
        page.fill("#in-priority", "7")
        page.fill("#in-idempotencyKey", key)
        page.click("form.start button[type=submit]")
        page.wait_for_url(re.compile(rf"{re.escape(server.url)}/ui/runs/[^/?]+$"))
        return page.url.rsplit("/", 1)[-1]

    first = fill_and_start()
    with server.client() as client:
        run = client.get(f"/api/workflow/{first}", params={"includeTasks": "false"}).json()
    assert (run["workflowVersion"], run["correlationId"], run["priority"]) == (1, f"{name}-c", 7)
    assert run["input"] == {"amount": 12} and run["idempotencyKey"] == key

    page.goto(f"{server.url}/ui/start/{name}?version=1")
    assert fill_and_start() == first, "the same key lands on the same run"

    page.goto(f"{server.url}/ui/start/{name}?version=1")
    page.fill("#in-amount", "12")
    page.fill("#in-idempotencyKey", key)
    page.select_option("#in-idempotencyStrategy", "FAIL")
    with page.expect_response(f"{server.url}/ui/start/{name}?version=1") as refused:
        page.click("form.start button[type=submit]")
    assert refused.value.status == 409
    expect(page.locator(".field-error[data-field='idempotencyKey']")).to_contain_text("already used")
    expect(page.locator("#in-idempotencyStrategy")).to_have_value("FAIL")


def test_the_start_page_shows_a_curl_for_each_way_in_that_works_as_shown(server: ServerProcess, page: Page) -> None:
    name, path = unique("defs_ways"), unique("orders")
    with server.client() as client:
        register(client, _trigger_definition(name, path))
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/start/{name}")
    ways = page.locator(".way-in")
    expect(ways).to_have_count(5)
    keys = ways.evaluate_all("ways => ways.map(w => w.dataset.way)")
    assert keys == ["conductor-start", "conductor-execute", "elsa-execute", "ballerine-run", "trigger-POST"]
    expected_urls = {
        "conductor-start": f"{server.url}/api/workflow/{name}?version=1",
        "conductor-execute": f"{server.url}/api/workflow/execute/{name}/1",
        "elsa-execute": f"{server.url}/elsa/api/workflow-definitions/{name}/execute",
        "ballerine-run": f"{server.url}/api/v1/external/workflows/run",
        "trigger-POST": f"{server.url}/workflows/{path}",
    }
    screenshot(page, "start")
    with server.client() as client:
        before = client.get("/api/workflow/search", params={"query": f"workflowType = {name}"}).json()["totalHits"]
    for key, url in expected_urls.items():
        command = page.locator(f".way-in[data-way='{key}'] pre").inner_text()
        assert command.startswith('curl -s -XPOST -H "$AUTH"') and url in command.replace("'", "").split(), command
        answered = subprocess.run(
            ["bash", "-c", command + " -o /dev/null -w '%{http_code}'"],
            env={"AUTH": f"Authorization: {ADMIN_HEADERS['Authorization']}", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert answered.stdout in ("200", "201", "206"), (key, answered.stdout, answered.stderr)
    with server.client() as client:
        after = client.get("/api/workflow/search", params={"query": f"workflowType = {name}"}).json()["totalHits"]
    assert after - before == 5, "each curl started a run"


def test_a_start_with_a_priority_out_of_range_is_a_400_at_the_field(server: ServerProcess) -> None:
    name = unique("defs_priority")
    with server.client() as client:
        register(client, {"name": name, "version": 1, "tasks": [inline("one")]})
        answer = client.post(f"/ui/start/{name}", data={"priority": "150", "correlationId": "kept"})
        assert answer.status_code == 400
        assert 'data-field="priority">must be between 0 and 99' in answer.text
        assert 'value="kept"' in answer.text
        missing = client.post(f"/ui/start/{name}", data={"version": "9"})
        assert missing.status_code == 404


def test_a_definitions_json_leaves_out_its_defaults_and_registers_again_as_the_same() -> None:
    given = _branching("round_trip", 3, "all of it")
    given["inputs"] = [{"name": "kind", "type": "String", "required": True}]
    given["restartable"] = False
    definition = msgspec.convert(given, WorkflowDef)
    text = definition_json(definition)
    assert msgspec.json.decode(text, type=WorkflowDef) == definition
    shown = json.loads(text)
    assert shown["restartable"] is False and "timeoutSeconds" not in shown and "optional" not in shown["tasks"][0]


def test_a_definition_alone_is_drawn_with_every_step_not_run() -> None:
    definition = msgspec.convert(_branching("drawn", 1, ""), WorkflowDef)
    graph = definition_graph(definition)
    assert sorted(node.ref for node in graph.nodes) == sorted(t.task_reference_name for t in definition.all_tasks())
    assert {node.status for node in graph.nodes} == {"NOT_RUN"} and not any(label.taken for label in graph.labels)


def test_the_diff_of_equal_texts_is_empty_and_far_changes_are_apart() -> None:
    lines = [f"line {n}" for n in range(20)]
    assert diff_lines("\n".join(lines), "\n".join(lines)) == []
    changed = [*lines[:2], "new 2", *lines[3:12], "new 12", *lines[13:]]
    kinds = [row.kind for row in diff_lines("\n".join(lines), "\n".join(changed))]
    assert kinds.count("gap") == 2 and kinds.count("removed") == 2 and kinds.count("added") == 2
    assert kinds[0] == "same" and kinds[-1] == "gap", "the first change near the start: gaps between and after"


def test_a_field_is_placed_at_its_key_or_at_what_holds_it_when_left_out() -> None:
    text = '{\n  "name": "a\\"}]",\n  "tasks": [\n    {"name": "b", "x": [1, {"q": 2}]}\n  ]\n}'
    assert place_of(text, "name") == (2, 3)
    assert place_of(text, "tasks[0].x[1].q") == (4, 29)
    assert place_of(text, "tasks[0].taskReferenceName") == (4, 5), "left out: at the step that lacks it"
    assert place_of(text, "version") is None


def test_a_bad_version_in_the_diff_is_a_400_naming_it_and_an_unknown_one_a_404(server: ServerProcess) -> None:
    name = unique("defs_diff_bad")
    with server.client() as client:
        register(client, {"name": name, "version": 1, "tasks": [inline("one")]})
        bad = client.get(f"/ui/definitions/{name}/diff", params={"from": "one", "to": "1"})
        assert bad.status_code == 400 and "<code>from</code>" in bad.text
        assert client.get(f"/ui/definitions/{name}/diff", params={"from": "1", "to": "7"}).status_code == 404
        assert client.get(f"/ui/definitions/{name}/7").status_code == 404
        assert client.get("/ui/definitions/new", params={"from": unique("nothing")}).status_code == 404
        latest = client.get(f"/ui/definitions/{name}")
        assert latest.status_code == 303 and latest.headers["location"] == f"/ui/definitions/{name}/1"
