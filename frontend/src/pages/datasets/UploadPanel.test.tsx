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
function server(versions: (body: unknown) => ReturnType<typeof json>, preview?: (body: unknown) => ReturnType<typeof json>) {
  return mockApi({
    ...(preview ? { "POST /api/v1/datasets/3/split-preview/": (request: { body: unknown }) => preview(request.body) } : {}),
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

  it("shows each split's patients before the ingest and waits when one would be empty", async () => {
    const user = userEvent.setup();
    const started = vi.fn<(version: DatasetVersion, name: string) => void>();
    const counts = (val: number, test: number) => ({
      available: true, grouped_by: "patient", groups: 3, files_unread: 0,
      splits: { train: { samples: 3 - val - test, groups: 3 - val - test }, val: { samples: val, groups: val }, test: { samples: test, groups: test } },
      warnings: [
        ...(val ? [] : [{ code: "empty_val_split", split: "val", message: "the validation split would get no patients (3 in all): raise val_fraction or add more patients" }]),
        ...(test ? [] : [{ code: "empty_test_split", split: "test", message: "the test split would get no patients (3 in all): raise test_fraction or add more patients" }]),
        { code: "small_dataset", split: "", message: "only 3 patients: add patients" },
      ],
    });
    const api = server(
      () => json(202, { id: 12, dataset: 3, number: 1, status: "queued" }),
      (body) => {
        const options = (body as { options: { val_fraction: number } }).options;
        return json(200, options.val_fraction >= 0.3 ? counts(1, 1) : counts(0, 0));
      },
    );
    render(<UploadPanel projectId={1} onStarted={started} />);
    await user.upload(screen.getByLabelText("Dataset file"), file());

    const preview = await screen.findByRole("region", { name: "Split preview" });
    expect(preview).toHaveTextContent("Train 3 · Validation 0 · Test 0 patients (3 in all)");
    expect(screen.getByRole("alert", { name: "Split warnings" })).toHaveTextContent("The validation split would get no patients");
    expect(api.sent("POST", "/api/v1/datasets/3/versions/")).toHaveLength(0);
    expect(screen.getByRole("button", { name: "Start the ingest anyway" })).toBeInTheDocument();

    await user.clear(screen.getByLabelText("Validation fraction"));
    await user.type(screen.getByLabelText("Validation fraction"), "0.34");
    await user.clear(screen.getByLabelText("Test fraction"));
    await user.type(screen.getByLabelText("Test fraction"), "0.33");
    await waitFor(() => expect(screen.getByRole("region", { name: "Split preview" })).toHaveTextContent("Train 1 · Validation 1 · Test 1"));
    await user.click(screen.getByRole("button", { name: "Start the ingest" }));
    await waitFor(() => expect(started).toHaveBeenCalledWith(expect.objectContaining({ id: 12 }), "scans"));
    expect(api.sent("POST", "/api/v1/datasets/3/versions/")[0]!.body).toMatchObject({ options: { val_fraction: 0.34, test_fraction: 0.33 } });
  });
});
