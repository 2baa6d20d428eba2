import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import type { ModelCard, ModelVariant, TensorSpec } from "../../api/deploy";
import { json, mockApi } from "../../test/mockApi";
import { TryIt } from "./TryIt";

function makeModel(input: TensorSpec, classes: string[]): ModelVariant {
  const card: ModelCard = { name: "m", task: "classification", classes, inputs: [input], outputs: [], metrics: {} };
  return { id: 5, project: 1, kind: "trained", name: "m", run: 2, parent: null, graph_version: 3, status: "succeeded", config: {}, card, report: null, error: null, created_at: "2025-01-01", finished_at: "2025-01-01" };
}

const imageInput: TensorSpec = { name: "image", datatype: "FP32", shape: [-1, 1, 8, 8], preprocessing: { input: "image" } };
const ctInput: TensorSpec = { name: "volume", datatype: "FP32", shape: [-1, 1, 32, 64, 64], preprocessing: { input: "ct" } };
const tableInput: TensorSpec = {
  name: "row",
  datatype: "FP32",
  shape: [-1, 4],
  preprocessing: { input: "table", encoding: { features: [{ column: "age", kind: "numeric" }, { column: "smoker", kind: "categorical", categories: ["no", "yes"], other: false }] } },
};

describe("TryIt", () => {
  it("uploads an image to predict as one multipart part with the API key, and shows the label and probabilities", async () => {
    const api = mockApi({ "POST /v2/models/digits/predict": json(200, { label: "7", probabilities: { "7": 0.97, "1": 0.02, "0": 0.01 }, samples: 1 }) });
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: () => "blob:preview" }));
    const onPredicted = vi.fn();
    render(<TryIt model={makeModel(imageInput, ["0", "1", "7"])} endpoint="/v2/models/digits" apiKey="secret" onPredicted={onPredicted} />);

    const png = new File([new Uint8Array([137, 80, 78, 71])], "seven.png", { type: "image/png" });
    await userEvent.upload(screen.getByLabelText("Image file (PNG or JPEG)"), png);

    expect(await screen.findByTestId("predicted-class")).toHaveTextContent("7");
    const list = screen.getByRole("list", { name: "Probabilities" });
    expect(within(list).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["797.0 %", "12.0 %", "01.0 %"]);
    const [sent] = api.sent("POST", "/v2/models/digits/predict");
    expect(sent?.headers.get("Authorization")).toBe("Bearer secret");
    const body = api.fetchMock.mock.calls[0]?.[1]?.body;
    expect(body).toBeInstanceOf(FormData);
    expect(((body as FormData).get("file") as File).name).toBe("seven.png");
    expect(onPredicted).toHaveBeenCalled();
  });

  it("sends a table row from the card's columns and shows a refusal under the column it names", async () => {
    const api = mockApi({ "POST /v2/models/risk/predict": json(400, { error: "row.age: must be a finite number", field: "row.age", code: "invalid_row" }) });
    const user = userEvent.setup();
    render(<TryIt model={makeModel(tableInput, ["low", "high"])} endpoint="/v2/models/risk" apiKey="secret" onPredicted={() => undefined} />);

    await user.type(screen.getByLabelText("age"), "47");
    await user.selectOptions(screen.getByLabelText("smoker"), "yes");
    await user.click(screen.getByRole("button", { name: "Predict this row" }));

    expect(await screen.findByText("The endpoint refused it (400): row.age: must be a finite number")).toBeInTheDocument();
    expect(screen.getByLabelText("age")).toHaveAttribute("aria-invalid", "true");
    expect(api.sent("POST", "/v2/models/risk/predict")[0]?.body).toEqual({ row: { age: 47, smoker: "yes" } });
  });

  it("takes a DICOM or NIfTI file for a CT model and shows the server's 4xx next to the file", async () => {
    mockApi({ "POST /v2/models/chest/predict": json(415, { error: "file: this model takes a whole CT volume: send it as one NIfTI file", field: "file", code: "wrong_input_kind" }) });
    render(<TryIt model={makeModel(ctInput, ["normal", "nodule"])} endpoint="/v2/models/chest" apiKey="secret" onPredicted={() => undefined} />);

    const picker = screen.getByLabelText("DICOM series (.zip), DICOM slice (.dcm) or NIfTI volume (.nii, .nii.gz)");
    expect(picker).toHaveAttribute("accept", expect.stringContaining(".nii.gz"));
    await userEvent.upload(picker, new File([new Uint8Array(132)], "slice.dcm", { type: "application/dicom" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("The endpoint refused it (415): file: this model takes a whole CT volume");
    expect(screen.queryByTestId("predicted-class")).not.toBeInTheDocument();
  });

  it("sends a zip of a DICOM series for a CT model and shows the class with the series' warnings", async () => {
    const warning = { code: "irregular_spacing", message: "slice positions are irregular; resampled to a regular grid at 2.50 mm" };
    const api = mockApi({ "POST /v2/models/chest/predict": json(200, { label: "nodule", probabilities: { nodule: 0.7, normal: 0.3 }, samples: 1, warnings: [warning] }) });
    render(<TryIt model={makeModel(ctInput, ["normal", "nodule"])} endpoint="/v2/models/chest" apiKey="secret" onPredicted={() => undefined} />);

    const picker = screen.getByLabelText("DICOM series (.zip), DICOM slice (.dcm) or NIfTI volume (.nii, .nii.gz)");
    await userEvent.upload(picker, new File([new Uint8Array([0x50, 0x4b, 3, 4])], "series.zip", { type: "application/zip" }));

    expect(await screen.findByTestId("predicted-class")).toHaveTextContent("nodule");
    expect(screen.getByRole("list", { name: "Input warnings" })).toHaveTextContent(warning.message);
    expect(api.sent("POST", "/v2/models/chest/predict")).toHaveLength(1);
  });
});
