import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Deployment } from "../../api/deploy";
import { json, mockApi } from "../../test/mockApi";
import { EngineExports } from "./EngineExports";

const deployment = { id: 4, name: "digits" } as Deployment;
const path = "GET /api/v1/deployments/4/export/";

describe("EngineExports", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("downloads the Triton repository and the KServe manifest with the chosen settings", async () => {
    const created = vi.fn(() => "blob:engine");
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() }));
    const saved: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      saved.push(this.download);
    });
    const api = mockApi({ [path]: json(200, "zip or yaml") });
    render(<EngineExports deployment={deployment} />);

    await userEvent.click(screen.getByRole("button", { name: "Download Triton repository" }));
    await waitFor(() => expect(created).toHaveBeenCalledTimes(1));
    expect(Object.fromEntries(api.sent("GET", "/api/v1/deployments/4/export/")[0]!.query)).toEqual({ target: "triton", max_batch_size: "32" });

    const uri = screen.getByLabelText("Storage URI");
    expect(uri).toHaveValue("s3://my-bucket/models/digits");
    await userEvent.clear(uri);
    await userEvent.type(uri, "gs://models/digits");
    await userEvent.selectOptions(screen.getByLabelText("KServe runtime"), "onnx");
    await userEvent.click(screen.getByRole("button", { name: "Download KServe manifest" }));
    await waitFor(() => expect(created).toHaveBeenCalledTimes(2));
    expect(Object.fromEntries(api.sent("GET", "/api/v1/deployments/4/export/")[1]!.query)).toEqual({ target: "kserve", storage_uri: "gs://models/digits", runtime: "onnx" });
    expect(saved).toEqual(["digits-triton.zip", "digits-inferenceservice.yaml"]);
  });

  it("shows the server's refusal under the field it names", async () => {
    mockApi({ [path]: json(400, { storage_uri: ["This value does not match the required pattern."] }) });
    render(<EngineExports deployment={deployment} />);

    await userEvent.click(screen.getByRole("button", { name: "Download KServe manifest" }));
    expect(await screen.findByText("This value does not match the required pattern.")).toBeInTheDocument();
    expect(screen.getByLabelText("Storage URI")).toHaveAttribute("aria-invalid", "true");
  });
});
