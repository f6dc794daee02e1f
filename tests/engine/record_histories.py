"""Record the committed decision histories that ``test_replay.py`` replays.

Run ``python -m tests.engine.record_histories`` only when a change of the
decider's behaviour is intended, and review the diff of ``histories/`` like code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from baton.model import RetryLogic, TaskResultStatus
from tests.engine.decider_support import Harness, history_document, simple, system, task_def, workflow

HERE = Path(__file__).parent / "histories"


def retries_and_lease_expiry() -> Harness:
    h = Harness(
        workflow(
            simple(
                "fetch",
                input_parameters={"url": "${workflow.input.url}"},
                task_definition=task_def(
                    "fetch_task",
                    retry_count=2,
                    retry_delay_seconds=3,
                    retry_logic=RetryLogic.EXPONENTIAL_BACKOFF,
                    response_timeout_seconds=20,
                ),
            ),
            simple("store", input_parameters={"body": "${fetch.output.body}"}),
            output_parameters={"stored": "${store.output.id}", "tries": "${fetch.retryCount}"},
        ),
        {"url": "https://example.test/a"},
    )
    h.fail("fetch", "connection reset")
    h.advance(3_000)
    first_retry = h.claim("fetch")
    h.advance(20_000)
    h.fire(first_retry)
    h.report(first_retry, TaskResultStatus.COMPLETED, {"late": True})  # refused
    h.advance(6_000)
    h.complete("fetch", {"body": "hello"})
    h.claim("store")
    h.report("store", TaskResultStatus.IN_PROGRESS, {"progress": 50}, callback_after_seconds=10)
    h.advance(10_000)
    h.complete("store", {"id": 7})
    return h


def switch_inline_and_wait() -> Harness:
    return _switch_flow(lambda h: (h.advance(60_000), h.fire("nap")))


def _switch_flow(finish: Callable[[Harness], object]) -> Harness:
    h = Harness(
        workflow(
            system(
                "INLINE",
                "score",
                input_parameters={
                    "evaluatorType": "javascript",
                    "expression": "$.amount > 100 ? 'big' : 'small'",
                    "amount": "${workflow.input.amount}",
                },
            ),
            system(
                "SWITCH",
                "route",
                evaluator_type="value-param",
                expression="size",
                input_parameters={"size": "${score.output.result}"},
                decision_cases={
                    "big": [
                        system("SET_VARIABLE", "flag", input_parameters={"review": True}),
                        system("WAIT", "nap", input_parameters={"duration": "1m"}),
                    ],
                    "small": [system("NOOP", "skip")],
                },
            ),
            system(
                "JSON_JQ_TRANSFORM",
                "summary",
                input_parameters={
                    "queryExpression": "{amount: .a, review: .r}",
                    "a": "${workflow.input.amount}",
                    "r": "${workflow.variables.review}",
                },
            ),
        ),
        {"amount": 250},
    )
    finish(h)
    return h


def terminate_while_waiting() -> Harness:
    h = Harness(workflow(system("HUMAN", "approve"), simple("ship")))
    h.signal("approve", TaskResultStatus.IN_PROGRESS, {"seen_by": "ann"})
    h.advance(1_000)
    h.terminate("cancelled by the customer")
    h.signal("approve")  # refused: the run is over
    return h


def fork_and_dynamic_fork() -> Harness:
    h = Harness(
        workflow(
            system(
                "FORK_JOIN",
                "split",
                fork_tasks=[
                    [simple("left", input_parameters={"n": "${workflow.input.n}"}), simple("left2")],
                    [system("WAIT", "pause", input_parameters={"duration": "5s"})],
                ],
            ),
            system("JOIN", "merge", join_on=["left2", "pause"]),
            system(
                "FORK_JOIN_DYNAMIC",
                "fan",
                input_parameters={
                    "tasks": [
                        {"name": "part", "taskReferenceName": "p0"},
                        {"name": "part", "taskReferenceName": "p1"},
                    ],
                    "inputs": {"p0": {"i": 0}, "p1": {"i": "${left.output.v}"}},
                },
                dynamic_fork_tasks_param="tasks",
                dynamic_fork_tasks_input_param_name="inputs",
            ),
            system("JOIN", "fan_in"),
            output_parameters={"parts": "${fan_in.output}"},
        ),
        {"n": 3},
    )
    h.complete("left", {"v": 1})
    h.advance(5_000)
    h.fire("pause")
    h.complete("left2")
    h.complete("p1", {"r": 1})
    h.fail("p0", "flaky")
    h.advance(60_000)
    h.complete("p0", {"r": 0})
    return h


def loops_with_items_and_keep_last() -> Harness:
    h = Harness(
        workflow(
            system(
                "DO_WHILE",
                "each",
                items="${workflow.input.items}",
                input_parameters={"keepLastN": 1},
                loop_over=[simple("handle", input_parameters={"item": "${each.output.loopItem}"})],
            ),
            system(
                "DO_WHILE",
                "poll",
                loop_condition="$.check['ready'] != true",
                loop_over=[system("HUMAN", "check")],
            ),
        ),
        {"items": ["a", "b", "c"]},
    )
    for i in (1, 2, 3):
        h.complete(f"handle__{i}", {"seen": i})
    h.signal("check", TaskResultStatus.COMPLETED, {"ready": False})
    h.signal("check", TaskResultStatus.COMPLETED, {"ready": True})
    return h


SCENARIOS: dict[str, Callable[[], Harness]] = {
    "fork_and_dynamic_fork": fork_and_dynamic_fork,
    "loops_with_items_and_keep_last": loops_with_items_and_keep_last,
    "retries_and_lease_expiry": retries_and_lease_expiry,
    "switch_inline_and_wait": switch_inline_and_wait,
    "terminate_while_waiting": terminate_while_waiting,
}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, scenario in SCENARIOS.items():
        (HERE / f"{name}.json").write_bytes(history_document(scenario()) + b"\n")
        print(f"wrote {name}.json")


if __name__ == "__main__":
    main()
