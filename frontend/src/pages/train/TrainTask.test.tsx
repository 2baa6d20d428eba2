import { screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ada, makeGraph, makeProject, page } from "../../test/fixtures";
import { type RecordedRequest, json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

function dataset(id: number, name: string, versionId: number, task: string, samples: number) {
  return {
    id,
    project: 1,
    name,
    description: "",
    kind: task === "segmentation" ? "segmentation" : task === "regression" ? "table" : "image",
    created_at: "2025-01-01",
    updated_at: "2025-01-01",
    latest_version: { id: versionId, number: 1, status: "succeeded", task, sample_count: samples, skipped_total: 0, created_at: "2025-01-01" },
  };
}

// Listed first, so the form opens on the segmentation set.
const shapes = dataset(5, "shapes", 21, "segmentation", 120);
const prices = dataset(6, "prices", 22, "regression", 500);
const digits = dataset(4, "digits", 9, "classification", 1797);
const TASKS: Record<number, string> = { 21: "segmentation", 22: "regression", 9: "classification" };

type RunBody = { dataset_version: number; config: Record<string, unknown> };

/** The server's rule (domain/runs/services.py plan_run): the run's task must be the version's. */
function estimate(request: RecordedRequest) {
  const body = request.body as RunBody;
  const task = (body.config.task as string | undefined) ?? "classification";
  const expected = TASKS[body.dataset_version];
  if (expected !== task) return json(400, { "config.task": [`the dataset is for ${expected}, not ${task}`] });
  return json(200, { config: { batch_size: 16 }, plan: { memory: { precision: "fp32", estimated_bytes: 2 ** 30, device_bytes: 8 * 2 ** 30 } } });
}

describe("TrainForm task", () => {
  it("follows the chosen dataset version's task, and says why a task changed by hand would be refused", async () => {
    const latest_version = { id: 3, number: 1, message: "", is_valid: true, created_at: "2025-01-04" };
    const fits = json(200, { fits: true, graph_shape: [1, 64, 64], data_shape: [1, 64, 64], resize: null, message: "fits" });
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([makeGraph({ latest_version })])),
      "GET /api/v1/datasets/": json(200, page([shapes, prices, digits])),
      "GET /api/v1/runs/": json(200, page([])),
      "GET /api/v1/dataset-versions/21/adapt-graph/": fits,
      "GET /api/v1/dataset-versions/22/adapt-graph/": fits,
      "GET /api/v1/dataset-versions/9/adapt-graph/": fits,
      "POST /api/v1/runs/estimate/": estimate,
      "POST /api/v1/runs/": json(201, { id: 77 }),
    });
    const { user } = renderApp("/projects/1/train", { user: ada });
    const lastEstimate = () => api.sent("POST", "/api/v1/runs/estimate/").at(-1)?.body as RunBody | undefined;

    await screen.findByRole("option", { name: /shapes \(v1, 120 samples\)/ });
    const datasetField = screen.getByLabelText("Dataset");
    expect(datasetField).toHaveValue("21");
    await user.click(screen.getByText("Advanced settings"));
    const task = screen.getByLabelText("Task");
    // The segmentation set: the form asks for segmentation, without the user looking for it.
    expect(task).toHaveDisplayValue("segmentation");
    expect(await screen.findByText(/Training needs about 1.00 GiB/, {}, { timeout: 3000 })).toBeInTheDocument();
    expect(lastEstimate()).toMatchObject({ dataset_version: 21, config: { task: "segmentation" } });
    expect(screen.queryByText("Starting now would be refused:")).not.toBeInTheDocument();

    // Another version: its task.
    await user.selectOptions(datasetField, "22");
    expect(screen.getByLabelText("Task")).toHaveDisplayValue("regression");
    await waitFor(() => expect(lastEstimate()).toMatchObject({ dataset_version: 22, config: { task: "regression" } }), { timeout: 3000 });

    // By hand, a task this version cannot train: the server's reason before Start is pressed.
    await user.selectOptions(screen.getByLabelText("Task"), "classification");
    expect(await screen.findByText("task: the dataset is for regression, not classification", {}, { timeout: 3000 })).toBeInTheDocument();
    expect(screen.getByText("Starting now would be refused:")).toBeInTheDocument();

    // Choosing a version takes its task again, over the hand-made choice.
    await user.selectOptions(datasetField, "9");
    expect(screen.getByLabelText("Task")).toHaveDisplayValue("classification");
    await user.selectOptions(datasetField, "21");
    expect(screen.getByLabelText("Task")).toHaveDisplayValue("segmentation");
    await waitFor(() => expect(screen.queryByText("Starting now would be refused:")).not.toBeInTheDocument(), { timeout: 3000 });
    expect(await screen.findByText(/Training needs about 1.00 GiB/)).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Start training" }));
    await waitFor(() => expect(api.sent("POST", "/api/v1/runs/")).toHaveLength(1));
    const created = api.sent("POST", "/api/v1/runs/")[0]?.body as RunBody;
    // The loss is left to the server, which takes the task's first (cross_entropy for segmentation).
    expect(created).toMatchObject({ dataset_version: 21, config: { task: "segmentation" } });
    expect(created.config).not.toHaveProperty("loss");
  }, 15_000);
});
