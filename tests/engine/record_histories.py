"""Record the committed decision histories that ``test_engine_replay.py`` replays.

Run ``python tests/engine/record_histories.py`` only when a change of the
decider's behaviour is intended, and review the diff of ``histories/`` like code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from decider_support import Harness, history_document, simple, system, task_def, workflow

from baton.model import RetryLogic, TaskResultStatus

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


SCENARIOS: dict[str, Callable[[], Harness]] = {
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
