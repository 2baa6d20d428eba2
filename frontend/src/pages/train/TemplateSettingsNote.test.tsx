import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ada, makeGraph, makeProject, page } from "../../test/fixtures";
import { json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

const version = (id: number) => ({ id, number: 1, message: "", is_valid: true, created_at: "2025-01-04" });
const prices = {
  id: 4,
  project: 1,
  name: "prices",
  description: "",
  kind: "table",
  created_at: "2025-01-01",
  updated_at: "2025-01-01",
  latest_version: { id: 9, number: 1, status: "succeeded", sample_count: 569, skipped_total: 0, created_at: "2025-01-01" },
};
const tabular = {
  ...makeGraph({ id: 11, name: "Price MLP", latest_version: version(3) }),
  template: "tabular_mlp",
  template_name: "MLP for tables",
  recommended_config: { batch_size: 16, optimizer: { name: "adam", lr: 0.01 }, schedule: { name: "one_cycle" } },
};
// The 3-D U-Net recommends an augmentation, which has no field on the form.
const FLIPS = { flip_horizontal: true, flip_depth: true };
const unet3d = {
  ...makeGraph({ id: 13, name: "Lesion U-Net", latest_version: version(7) }),
  template: "unet3d",
  template_name: "U-Net (3D segmentation)",
  recommended_config: { optimizer: { name: "adam", lr: 0.003 }, loss: "dice_cross_entropy", schedule: { name: "cosine" }, augmentation: FLIPS },
};
const scratch = { ...makeGraph({ id: 12, name: "Mine", latest_version: version(5) }), template: null, template_name: null, recommended_config: {} };

function serve() {
  return mockApi({
    "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
    "GET /api/v1/projects/1/": json(200, makeProject()),
    "GET /api/v1/graphs/": json(200, page([tabular, scratch, unet3d])),
    "GET /api/v1/datasets/": json(200, page([prices])),
    "GET /api/v1/runs/": json(200, page([])),
    "POST /api/v1/runs/estimate/": json(200, { config: {}, plan: {} }),
    "POST /api/v1/runs/": json(201, { id: 77 }),
  });
}

describe("Train form with a graph from a template", () => {
  it("pre-fills the template's recommended settings, says so, and returns to the plain defaults", async () => {
    serve();
    const { user } = renderApp("/projects/1/train", { user: ada });
    await screen.findByRole("option", { name: /prices \(v1, 569 samples\)/ });
    const note = await screen.findByRole("note");
    expect(note).toHaveTextContent("Settings recommended by the MLP for tables template: batch 16, Adam optimizer, learning rate 0.01, one-cycle schedule.");
    const basic = screen.getByTestId("run-config-basic");
    expect(within(basic).getByLabelText("Batch size")).toHaveValue(16);
    expect(within(basic).getByLabelText("Learning rate")).toHaveValue(0.01);
    expect(screen.getByRole("combobox", { name: "Schedule" })).toHaveDisplayValue("one_cycle");

    await user.click(within(note).getByRole("button", { name: "Use plain defaults" }));
    // The dataset's batch (569 rows: 32) and the schema's defaults again.
    expect(within(basic).getByLabelText("Batch size")).toHaveValue(32);
    expect(within(basic).getByLabelText("Learning rate")).toHaveValue(0.001);
    expect(screen.getByRole("combobox", { name: "Schedule" })).toHaveDisplayValue("none");
    expect(screen.getByRole("note")).toHaveTextContent("Plain defaults. The MLP for tables template recommends batch 16");
    await user.click(screen.getByRole("button", { name: "Use recommended settings" }));
    expect(within(basic).getByLabelText("Batch size")).toHaveValue(16);
  });

  it("keeps what the user changed, drops the note for a graph from scratch, and sends the settings shown", async () => {
    const api = serve();
    const { user } = renderApp("/projects/1/train", { user: ada });
    await screen.findByRole("option", { name: /prices/ });
    const basic = screen.getByTestId("run-config-basic");
    await screen.findByRole("note");
    const lr = within(basic).getByLabelText("Learning rate");
    await user.clear(lr);
    await user.type(lr, "0.003{Enter}");

    await user.selectOptions(screen.getByLabelText("Graph"), "5");
    expect(screen.queryByRole("note")).not.toBeInTheDocument();
    expect(within(basic).getByLabelText("Batch size")).toHaveValue(32);
    expect(within(basic).getByLabelText("Learning rate")).toHaveValue(0.003);

    await user.selectOptions(screen.getByLabelText("Graph"), "3");
    await screen.findByRole("note");
    await user.click(screen.getByRole("button", { name: "Start training" }));
    await screen.findByText(/./, { selector: "h1" });
    const body = api.sent("POST", "/api/v1/runs/")[0]?.body as { graph_version: number; config: Record<string, unknown> };
    expect(body.graph_version).toBe(3);
    expect(body.config).toEqual({ batch_size: 16, optimizer: { name: "adam", lr: 0.01 }, schedule: { name: "one_cycle" } });
  });

  it("sends a recommended augmentation with the run, says so, and leaves it out under the plain defaults", async () => {
    const api = serve();
    const { user } = renderApp("/projects/1/train", { user: ada });
    await screen.findByRole("option", { name: /prices/ });
    await user.selectOptions(screen.getByLabelText("Graph"), "7");
    const note = await screen.findByRole("note");
    expect(note).toHaveTextContent(
      "Settings recommended by the U-Net (3D segmentation) template: Adam optimizer, learning rate 0.003, loss dice_cross_entropy, " +
        "cosine schedule, augmentation: left-right flips, slice-order flips (instead of the dataset's).",
    );
    await user.click(within(note).getByRole("button", { name: "Use plain defaults" }));
    expect(screen.getByRole("note")).toHaveTextContent(/^Plain defaults\. The U-Net \(3D segmentation\) template recommends .*augmentation: left-right flips/);
    await user.click(screen.getByRole("button", { name: "Start training" }));
    await screen.findByText(/./, { selector: "h1" });
    const body = api.sent("POST", "/api/v1/runs/")[0]?.body as { graph_version: number; config: Record<string, unknown> };
    expect(body.graph_version).toBe(7);
    // Nothing set: the server's defaults, and the dataset's augmentation.
    expect(body.config).toEqual({ batch_size: 32 });
  });

  it("starts the run with the recommended augmentation", async () => {
    const api = serve();
    const { user } = renderApp("/projects/1/train", { user: ada });
    await screen.findByRole("option", { name: /prices/ });
    await user.selectOptions(screen.getByLabelText("Graph"), "7");
    await screen.findByRole("note");
    await user.click(screen.getByRole("button", { name: "Start training" }));
    await screen.findByText(/./, { selector: "h1" });
    const body = api.sent("POST", "/api/v1/runs/")[0]?.body as { config: Record<string, unknown> };
    expect(body.config).toEqual({
      batch_size: 32,
      optimizer: { name: "adam", lr: 0.003 },
      loss: "dice_cross_entropy",
      schedule: { name: "cosine" },
      augmentation: FLIPS,
    });
  });
});
