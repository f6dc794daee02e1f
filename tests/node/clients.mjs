// Drives the official @io-orkes/conductor-javascript client against a running `baton serve`.
//
// Usage: node clients.mjs <scenario> <prefix>, with CONDUCTOR_SERVER_URL naming the server's /api.
// Each scenario registers its own definitions under <prefix> and exits 0 when every check holds; on the
// first failed check it prints what was expected and what came back, and exits 1. tests/sdk/test_node_client.py
// runs one scenario per test against the suite's servers.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import {
  MetadataClient,
  TaskClient,
  TaskManager,
  TaskRunner,
  WorkflowExecutor,
  humanTask,
  noopLogger,
  orkesConductorClient,
  simpleTask,
  workflow,
} from "@io-orkes/conductor-javascript";

const SCENARIO_TIMEOUT_MS = 60_000;

const [scenarioName, prefix] = process.argv.slice(2);

/** A task definition that fails fast: no retries, short timeouts. */
function taskDef(name) {
  return {
    name,
    retryCount: 0,
    timeoutSeconds: 60,
    responseTimeoutSeconds: 30,
    ownerEmail: "node@example.com",
  };
}

/** Registers the task definitions and a workflow of the given steps; returns the workflow's name. */
async function registerWorkflow(client, name, taskNames, steps, outputParameters) {
  await new MetadataClient(client).registerTasks(taskNames.map(taskDef));
  const definition = workflow(name, steps);
  definition.outputParameters = outputParameters;
  definition.ownerEmail = "node@example.com";
  await new WorkflowExecutor(client).registerWorkflow(true, definition);
  return name;
}

/** Reads the run until `check` holds for it; fails with the last run read after `timeoutMs`. */
async function waitFor(executor, workflowId, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let run;
  while (Date.now() < deadline) {
    run = await executor.getWorkflow(workflowId, true);
    if (check(run)) return run;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`run ${workflowId} never reached the expected state: ${JSON.stringify(run)}`);
}

const ended = (run) => !["RUNNING", "PAUSED"].includes(run.status);

function taskByRef(run, ref) {
  const task = (run.tasks ?? []).find((candidate) => candidate.referenceTaskName === ref);
  assert.ok(task, `no task ${ref} in ${JSON.stringify(run)}`);
  return task;
}

/** The `double` worker: returns twice its input `x`. */
function doubler(taskDefName) {
  return {
    taskDefName,
    pollInterval: 50,
    execute: async (task) => ({ status: "COMPLETED", outputData: { x: task.inputData.x * 2 } }),
  };
}

/** A TaskManager for `workers`, polling fast; the caller stops it. */
function startManager(client, workers) {
  const manager = new TaskManager(client, workers, {
    logger: noopLogger,
    options: { pollInterval: 50, concurrency: 1, workerID: `node-${prefix}` },
  });
  manager.startPolling();
  return manager;
}

const scenarios = {
  /** A TaskManager and a bare TaskRunner each poll one step of a two-step run and complete it. */
  async worker(client) {
    const executor = new WorkflowExecutor(client);
    const [first, second] = [`${prefix}_first`, `${prefix}_second`];
    const name = await registerWorkflow(
      client,
      `${prefix}_worker`,
      [first, second],
      [
        simpleTask("a", first, { x: "${workflow.input.x}" }),
        simpleTask("b", second, { x: "${a.output.x}" }),
      ],
      { x: "${b.output.x}" },
    );
    const manager = startManager(client, [doubler(first)]);
    const runner = new TaskRunner({
      worker: doubler(second),
      client,
      logger: noopLogger,
      options: { workerID: `node-runner-${prefix}`, domain: undefined, pollInterval: 50, concurrency: 1 },
    });
    runner.startPolling();
    try {
      const workflowId = await executor.startWorkflow({ name, version: 1, input: { x: 5 } });
      const run = await waitFor(executor, workflowId, ended);
      assert.equal(run.status, "COMPLETED", JSON.stringify(run));
      assert.deepEqual(run.output, { x: 20 });
      assert.equal(taskByRef(run, "a").workerId, `node-${prefix}`);
      assert.equal(taskByRef(run, "b").workerId, `node-runner-${prefix}`);
    } finally {
      await manager.stopPolling();
      await runner.stopPolling();
    }
  },

  /** executeWorkflow runs to the end while a worker serves its step, and stops at waitUntilTaskRef. */
  async execute(client) {
    const executor = new WorkflowExecutor(client);
    const step = `${prefix}_step`;
    const name = await registerWorkflow(
      client,
      `${prefix}_execute`,
      [step],
      [simpleTask("a", step, { x: "${workflow.input.x}" })],
      { x: "${a.output.x}" },
    );
    const blocked = await registerWorkflow(
      client,
      `${prefix}_execute_blocked`,
      [step],
      [simpleTask("a", step, { x: "${workflow.input.x}" }), humanTask("approve")],
      { x: "${a.output.x}" },
    );
    const manager = startManager(client, [doubler(step)]);
    try {
      const run = await executor.executeWorkflow({ name, version: 1, input: { x: 21 } }, name, 1, randomUUID());
      assert.equal(run.status, "COMPLETED", JSON.stringify(run));
      assert.deepEqual(run.output, { x: 42 });
      assert.ok(run.workflowId, JSON.stringify(run));

      const waiting = await executor.executeWorkflow(
        { name: blocked, version: 1, input: { x: 3 } },
        blocked,
        1,
        randomUUID(),
        "approve",
      );
      assert.equal(waiting.status, "RUNNING", JSON.stringify(waiting));
      const stored = await executor.getWorkflow(waiting.workflowId, true);
      assert.equal(taskByRef(stored, "a").status, "COMPLETED");
      assert.equal(taskByRef(stored, "approve").status, "IN_PROGRESS");
    } finally {
      await manager.stopPolling();
    }
  },

  /** testWorkflow runs a registered workflow with mocked outputs for its worker steps; no worker polls. */
  async "test-workflow"(client) {
    const executor = new WorkflowExecutor(client);
    const [first, second] = [`${prefix}_first`, `${prefix}_second`];
    const name = await registerWorkflow(
      client,
      `${prefix}_mocked`,
      [first, second],
      [simpleTask("a", first, {}), simpleTask("b", second, { seen: "${a.output.message}" })],
      { message: "${a.output.message}", seen: "${b.input.seen}", total: "${b.output.total}" },
    );
    const run = await executor.testWorkflow({
      name,
      version: 1,
      input: {},
      taskRefToMockOutput: {
        a: [{ status: "COMPLETED", output: { message: "mocked" } }],
        b: [{ status: "COMPLETED", output: { total: 7 } }],
      },
    });
    assert.equal(run.status, "COMPLETED", JSON.stringify(run));
    assert.deepEqual(run.output, { message: "mocked", seen: "mocked", total: 7 });
    assert.deepEqual(
      run.tasks.map((task) => [task.referenceTaskName, task.status]),
      [
        ["a", "COMPLETED"],
        ["b", "COMPLETED"],
      ],
    );
  },

  /** updateTaskSync (TaskClient's and WorkflowExecutor's) completes a step by reference and returns the run. */
  async "update-sync"(client) {
    const executor = new WorkflowExecutor(client);
    const [first, second] = [`${prefix}_first`, `${prefix}_second`];
    const name = await registerWorkflow(
      client,
      `${prefix}_sync`,
      [first, second],
      [simpleTask("a", first, {}), simpleTask("b", second, {})],
      { a: "${a.output.value}", b: "${b.output.taskOutput.value}" },
    );
    const workflowId = await executor.startWorkflow({ name, version: 1, input: {} });

    const afterA = await new TaskClient(client).updateTaskSync(workflowId, "a", "COMPLETED", { value: 1 }, "node");
    assert.equal(afterA.workflowId, workflowId);
    assert.equal(taskByRef(afterA, "a").status, "COMPLETED", JSON.stringify(afterA));
    assert.deepEqual(taskByRef(afterA, "a").outputData, { value: 1 });

    await waitFor(executor, workflowId, (run) => (run.tasks ?? []).some((task) => task.referenceTaskName === "b"));
    // WorkflowExecutor's updateTaskSync sends its output as `{taskOutput: ...}`, which Conductor stores as it
    // comes: the step's output is that object.
    const afterB = await executor.updateTaskSync("b", workflowId, "COMPLETED", { value: 2 });
    assert.equal(taskByRef(afterB, "b").status, "COMPLETED", JSON.stringify(afterB));
    assert.deepEqual(taskByRef(afterB, "b").outputData, { taskOutput: { value: 2 } });

    const run = await waitFor(executor, workflowId, ended);
    assert.equal(run.status, "COMPLETED", JSON.stringify(run));
    assert.deepEqual(run.output, { a: 1, b: 2 });
  },
};

async function main() {
  const scenario = scenarios[scenarioName];
  if (scenario === undefined || !prefix) {
    console.error(`usage: node clients.mjs <${Object.keys(scenarios).join("|")}> <prefix>`);
    process.exit(2);
  }
  const timer = setTimeout(() => {
    console.error(`scenario ${scenarioName} did not finish within ${SCENARIO_TIMEOUT_MS} ms`);
    process.exit(1);
  }, SCENARIO_TIMEOUT_MS);
  const client = await orkesConductorClient({ serverUrl: process.env.CONDUCTOR_SERVER_URL, logger: noopLogger });
  await scenario(client);
  clearTimeout(timer);
  console.log(`scenario ${scenarioName}: ok`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error?.stack ?? error);
    process.exit(1);
  },
);
