import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { DatasetVersion } from "../../api/datasets";
import { uploadFile } from "../../lib/tusUpload";
import { json, mockApi } from "../../test/mockApi";
import { UploadPanel } from "./UploadPanel";

// The tus transfer itself (tus-js-client over XMLHttpRequest) is tested in lib/tusUpload.test.ts
// against an in-memory tus server; here it takes the whole file at once.
vi.mock("../../lib/tusUpload", () => ({
  uploadFile: vi.fn(async (file: File, options: { onProgress?: (sent: number, total: number) => void } = {}) => {
    options.onProgress?.(file.size, file.size);
    return "7f3c2a9e-0000-4000-8000-000000000001";
  }),
}));

/** The dataset API behind the upload. */
function server(versions: (body: unknown) => ReturnType<typeof json>) {
  return mockApi({
    "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
    "POST /api/v1/datasets/": json(201, { id: 3, project: 1, name: "scans", kind: "image", description: "", created_at: "", updated_at: "", latest_version: null }),
    "POST /api/v1/datasets/3/versions/": (request) => versions(request.body),
  });
}

const file = () => new File(["abcd"], "scans.zip", { type: "application/zip", lastModified: 1 });

describe("UploadPanel split settings", () => {
  beforeEach(() => {
    window.localStorage.clear();
    vi.mocked(uploadFile).mockClear();
  });
  afterEach(() => vi.unstubAllGlobals());

  it("checks the shares before uploading anything", async () => {
    const user = userEvent.setup();
    const api = server(() => json(202, {}));
    render(<UploadPanel projectId={1} onStarted={() => undefined} />);

    await user.clear(screen.getByLabelText("Validation fraction"));
    await user.type(screen.getByLabelText("Validation fraction"), "0.5");
    await user.clear(screen.getByLabelText("Test fraction"));
    await user.type(screen.getByLabelText("Test fraction"), "0.48");
    expect(screen.getByLabelText("Train fraction")).toHaveValue(0.02); // the rest, filled in
    await user.upload(screen.getByLabelText("Dataset file"), file());

    expect(screen.getByLabelText("Train fraction")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByText("Leave at least 0.05 for training.")).toBeInTheDocument();
    await user.clear(screen.getByLabelText("Split seed"));
    await user.type(screen.getByLabelText("Split seed"), "1.5");
    expect(screen.getByText(/Enter a whole number from 0/)).toBeInTheDocument();
    expect(uploadFile).not.toHaveBeenCalled();
    expect(api.sent("POST", "/api/v1/datasets/")).toHaveLength(0);
  });

  it("sends the split options, shows the server's refusal at its field and retries without uploading again", async () => {
    const user = userEvent.setup();
    const started = vi.fn<(version: DatasetVersion, name: string) => void>();
    const api = server((body) => {
      const options = (body as { options: { val_fraction: number } }).options;
      return options.val_fraction > 0.25
        ? json(400, { "options.val_fraction": ["Input should be less than or equal to 0.25"] })
        : json(202, { id: 11, dataset: 3, number: 1, status: "queued" });
    });
    render(<UploadPanel projectId={1} onStarted={started} />);

    await user.clear(screen.getByLabelText("Validation fraction"));
    await user.type(screen.getByLabelText("Validation fraction"), "0.3");
    await user.selectOptions(screen.getByLabelText("Split strategy"), "random");
    await user.clear(screen.getByLabelText("Split seed"));
    await user.type(screen.getByLabelText("Split seed"), "42");
    await user.upload(screen.getByLabelText("Dataset file"), file());

    const validation = screen.getByLabelText("Validation fraction");
    await waitFor(() => expect(validation).toHaveAttribute("aria-invalid", "true"));
    expect(screen.getByText("Input should be less than or equal to 0.25")).toBeInTheDocument();
    expect(api.sent("POST", "/api/v1/datasets/3/versions/")[0]!.body).toEqual({
      upload: "7f3c2a9e-0000-4000-8000-000000000001",
      options: { val_fraction: 0.3, test_fraction: 0.1, split_strategy: "random", seed: 42 },
    });
    expect(started).not.toHaveBeenCalled();

    await user.clear(validation);
    await user.type(validation, "0.2");
    await user.click(screen.getByRole("button", { name: "Start the ingest" }));

    await waitFor(() => expect(started).toHaveBeenCalledWith(expect.objectContaining({ id: 11 }), "scans"));
    expect(api.sent("POST", "/api/v1/datasets/3/versions/")[1]!.body).toMatchObject({ options: { val_fraction: 0.2, test_fraction: 0.1 } });
    expect(uploadFile).toHaveBeenCalledTimes(1);
    expect(api.sent("POST", "/api/v1/datasets/")).toHaveLength(1);
    expect(screen.queryByRole("button", { name: "Start the ingest" })).toBeNull();
  });
});
