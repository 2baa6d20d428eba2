import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { describe, expect, it } from "vitest";

import { BuildModelButton } from "../datasets/BuildModelButton";
import { ada, makeGraph, makeProject, page } from "../../test/fixtures";
import { type RecordedRequest, json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";
import { TrainPage } from "./TrainPage";

const digits = {
  id: 4,
  project: 1,
  name: "digits",
  description: "",
  kind: "image",
  created_at: "2025-01-01",
  updated_at: "2025-01-01",
  latest_version: { id: 9, number: 1, status: "succeeded", sample_count: 1797, skipped_total: 0, created_at: "2025-01-01" },
};
const lenetV1 = { id: 3, number: 1, message: "", is_valid: true, created_at: "2025-01-04" };
const lenetV2 = { id: 5, number: 2, message: "input adapted to digits v1", is_valid: true, created_at: "2025-01-05" };
const data = { modality: "image", shape: [1, 8, 8], task: "classification", classes: 10, vocab_size: null };
const mismatch = {
  fits: false, graph_shape: [1, 32, 32], data_shape: [1, 8, 8], resize: [32, 32], data,
  message: "the graph takes 1×32×32 but the dataset's images are 1×8×8: training would resize every image to 32×32",
};
const fits = { fits: true, graph_shape: [1, 8, 8], data_shape: [1, 8, 8], resize: null, data, message: "fits" };
const adaptNotes = ["input 'image' set to 1×8×8 (grey) (was 1×32×32)", "gave convolutions c1, c3 'same' padding so 8×8 fits"];

function trainRoutes(adapted: () => boolean) {
  return {
    "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
    "GET /api/v1/projects/1/": json(200, makeProject()),
    "GET /api/v1/graphs/": () => json(200, page([makeGraph({ latest_version: adapted() ? lenetV2 : lenetV1 })])),
    "GET /api/v1/datasets/": json(200, page([digits])),
    "GET /api/v1/runs/": json(200, page([])),
    "POST /api/v1/runs/estimate/": json(200, { config: { batch_size: 32 }, plan: {} }),
    "GET /api/v1/dataset-versions/9/adapt-graph/": (request: RecordedRequest) =>
      json(200, request.query.get("graph_version") === "5" ? fits : mismatch),
  };
}

describe("Train form: the graph's input against the data", () => {
  it("warns with both shapes and the resize, and adapts the input as a new version it selects", async () => {
    let adapted = false;
    const api = mockApi({
      ...trainRoutes(() => adapted),
      "POST /api/v1/dataset-versions/9/adapt-graph/": () => {
        adapted = true;
        return json(201, { graph: 10, graph_name: "LeNet", version: lenetV2, template: "lenet5", notes: adaptNotes });
      },
    });
    const { user } = renderApp("/projects/1/train", { user: ada });

    const warning = await screen.findByTestId("input-mismatch");
    expect(warning).toHaveTextContent("The graph takes 1×32×32 samples; this dataset’s are 1×8×8.");
    expect(warning).toHaveTextContent("Training would resize every image to 32×32");
    expect(api.sent("GET", "/api/v1/dataset-versions/9/adapt-graph/")[0]?.query.get("graph_version")).toBe("3");

    await user.click(screen.getByRole("button", { name: "Adapt the input to this dataset" }));

    expect(api.sent("POST", "/api/v1/dataset-versions/9/adapt-graph/")[0]?.body).toEqual({ graph_version: 3 });
    const notes = await screen.findByTestId("change-notes");
    expect(notes).toHaveTextContent("Adapted the input: “LeNet” v2.");
    expect(notes).toHaveTextContent("input 'image' set to 1×8×8 (grey) (was 1×32×32)");
    await waitFor(() => expect(screen.queryByTestId("input-mismatch")).not.toBeInTheDocument());
    await waitFor(() => expect(screen.getByLabelText("Graph")).toHaveValue("5"));
    expect(screen.getByRole("option", { name: "LeNet (v2)" })).toBeInTheDocument();
  });

  it("says when the server refuses to adapt", async () => {
    mockApi({
      ...trainRoutes(() => false),
      "POST /api/v1/dataset-versions/9/adapt-graph/": json(400, {
        graph_version: ["the graph's input 'features' takes feature vectors but the dataset holds images"],
      }),
    });
    const { user } = renderApp("/projects/1/train", { user: ada });
    await user.click(await screen.findByRole("button", { name: "Adapt the input to this dataset" }));
    expect(await screen.findByText(/takes feature vectors but the dataset holds images/)).toBeInTheDocument();
  });

  it("shows no warning when the graph takes the data as it is", async () => {
    const api = mockApi({ ...trainRoutes(() => true) });
    renderApp("/projects/1/train", { user: ada });
    await waitFor(() => expect(api.sent("GET", "/api/v1/dataset-versions/9/adapt-graph/").length).toBeGreaterThan(0));
    await screen.findByRole("option", { name: "LeNet (v2)" });
    expect(screen.queryByTestId("input-mismatch")).not.toBeInTheDocument();
  });
});

describe("Build a model for this data", () => {
  it("creates the graph and opens the Train form with it and the dataset chosen, and the notes", async () => {
    const built = {
      graph: 10, graph_name: "digits model", version: { ...lenetV1, id: 7 }, template: "lenet5",
      notes: ["started from the LeNet-5 template: a small convolutional network for small images", ...adaptNotes],
    };
    const other = { ...digits, id: 5, name: "other", latest_version: { ...digits.latest_version, id: 11 } };
    const api = mockApi({
      ...trainRoutes(() => true),
      "GET /api/v1/graphs/": json(200, page([makeGraph({ id: 2, name: "old" }), makeGraph({ name: "digits model", latest_version: built.version })])),
      "GET /api/v1/datasets/": json(200, page([other, digits])),
      "POST /api/v1/dataset-versions/9/build-model/": json(201, built),
    });
    const user = userEvent.setup();
    render(
      <MemoryRouter initialEntries={["/projects/1/datasets"]}>
        <Routes>
          <Route path="/projects/1/datasets" element={<BuildModelButton projectId={1} datasetName="digits" versionId={9} />} />
          <Route path="/projects/:projectId/train" element={<TrainPage />} />
        </Routes>
      </MemoryRouter>,
    );
    await user.click(screen.getByRole("button", { name: "Build a model for this data" }));

    expect(api.sent("POST", "/api/v1/dataset-versions/9/build-model/")[0]?.body).toEqual({ name: "" });
    const notes = await screen.findByTestId("change-notes");
    expect(notes).toHaveTextContent("Built for digits: “digits model” v1.");
    expect(notes).toHaveTextContent("gave convolutions c1, c3 'same' padding so 8×8 fits");
    expect(screen.getByRole("link", { name: "Open it on the canvas" })).toHaveAttribute("href", "/projects/1/graphs/10");
    await waitFor(() => expect(screen.getByLabelText("Graph")).toHaveValue("7"));
    await waitFor(() => expect(screen.getByLabelText("Dataset")).toHaveValue("9"));
  });

  it("shows why the server refused", async () => {
    mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "POST /api/v1/dataset-versions/9/build-model/": json(400, { dataset_version: ["the dataset version is running: only a ready (succeeded) version can be built for"] }),
    });
    const user = userEvent.setup();
    render(
      <MemoryRouter>
        <BuildModelButton projectId={1} datasetName="digits" versionId={9} />
      </MemoryRouter>,
    );
    await user.click(screen.getByRole("button", { name: "Build a model for this data" }));
    expect(await screen.findByText(/only a ready \(succeeded\) version can be built for/)).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Build a model for this data" })).toBeEnabled();
  });
});
