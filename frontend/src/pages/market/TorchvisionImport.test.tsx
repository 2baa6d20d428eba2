import { screen, within } from "@testing-library/react";
import { beforeAll, describe, expect, it } from "vitest";

import { ada, makeProject, page } from "../../test/fixtures";
import { layerSpecs, report } from "../../test/layers";
import { type Routes, json, mockApi } from "../../test/mockApi";
import { prepareReactFlow } from "../../test/reactFlow";
import { renderApp } from "../../test/renderApp";
import { makeEntry, makeImportJob, makeVersion, makeVersionSummary } from "./marketFixtures";

const IMPORT = "/api/v1/market/import-torchvision/";
const ARCHITECTURES = ["mobilenet_v3_small", "resnet18", "squeezenet1_1"];

function marketRoutes(extra: Routes): Routes {
  return {
    "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
    "GET /api/v1/market/entries/": json(200, page([])),
    "GET /api/v1/templates/": json(200, { templates: [], torchvision: ARCHITECTURES }),
    "GET /api/v1/projects/": json(200, page([makeProject({ id: 3, name: "Viewing only", role: "viewer" }), makeProject({ id: 4, name: "Pets" })])),
    ...extra,
  };
}

/** The FormData of the one import request sent. */
function sentForm(fetchMock: ReturnType<typeof mockApi>["fetchMock"]): FormData {
  const calls = fetchMock.mock.calls.filter(([url]) => String(url) === IMPORT);
  expect(calls).toHaveLength(1);
  return calls[0]![1]!.body as FormData;
}

function weightsFile(name = "pets.safetensors"): File {
  return new File([new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0])], name);
}

async function openForm() {
  const rendered = renderApp("/market", { user: ada });
  const form = await screen.findByRole("form", { name: "Import torchvision weights" });
  await within(form).findByRole("option", { name: "squeezenet1_1" });
  return { ...rendered, form };
}

describe("TorchvisionImport", () => {
  beforeAll(prepareReactFlow);

  it("offers the server's architectures, sends one multipart request and opens the new entry", async () => {
    const imported = makeEntry({ id: 12, title: "SqueezeNet pets", classes: ["cat", "dog", "bird"], versions: [makeVersionSummary({ id: 40, entry: 12 })] });
    const api = mockApi(
      marketRoutes({
        [`POST ${IMPORT}`]: json(202, makeImportJob({ kind: "torchvision", filename: "pets.safetensors" })),
        "GET /api/v1/market/imports/7/": json(200, makeImportJob({ kind: "torchvision", status: "succeeded", progress: 1, entry: 12, version: 40 })),
        "GET /api/v1/market/entries/12/": json(200, imported),
        "GET /api/v1/layers/": json(200, { registry_version: 1, categories: [], layers: layerSpecs }),
        "POST /api/v1/graphs/validate/": json(200, report({ nodes: {} })),
        "GET /api/v1/market/versions/40/": json(200, makeVersion({ id: 40, entry: 12 })),
      }),
    );
    const { user, form } = await openForm();
    const options = within(within(form).getByLabelText("Architecture")).getAllByRole("option").map((o) => o.textContent);
    expect(options).toEqual(["Choose an architecture", ...ARCHITECTURES]);

    await user.selectOptions(within(form).getByLabelText("Architecture"), "squeezenet1_1");
    await user.upload(within(form).getByLabelText("Weights file"), weightsFile());
    await user.clear(within(form).getByLabelText("Input size"));
    await user.type(within(form).getByLabelText("Input size"), "64");
    await user.type(within(form).getByLabelText("Number of classes"), "3");
    await user.type(within(form).getByLabelText("Class names"), "cat{Enter}dog{Enter}{Enter} bird ");
    await user.type(within(form).getByLabelText("Title"), "SqueezeNet pets");
    await user.type(within(form).getByLabelText("Licence of the weights"), "BSD-3-Clause");
    await user.selectOptions(within(form).getByLabelText("Visibility of the model"), "organization");
    // The picker offers only projects the user may change, and picks the first.
    expect(await within(form).findByRole("option", { name: "Pets" })).toBeInTheDocument();
    expect(within(form).queryByRole("option", { name: "Viewing only" })).not.toBeInTheDocument();
    await user.click(within(form).getByRole("button", { name: "Import weights" }));

    expect(await screen.findByRole("heading", { name: "SqueezeNet pets" }, { timeout: 3000 })).toBeInTheDocument();
    expect(screen.queryByRole("form", { name: "Import torchvision weights" })).not.toBeInTheDocument();
    const sent = sentForm(api.fetchMock);
    expect((sent.get("weights") as File).name).toBe("pets.safetensors");
    expect([...sent.keys()].sort()).toEqual(["architecture", "classes", "classes", "classes", "description", "input_size", "licence", "num_classes", "project", "title", "visibility", "weights"]);
    expect(sent.get("architecture")).toBe("squeezenet1_1");
    expect(sent.getAll("classes")).toEqual(["cat", "dog", "bird"]);
    expect([sent.get("input_size"), sent.get("num_classes"), sent.get("project")]).toEqual(["64", "3", "4"]);
    expect([sent.get("title"), sent.get("licence"), sent.get("visibility")]).toEqual(["SqueezeNet pets", "BSD-3-Clause", "organization"]);
    const headers = new Headers(api.fetchMock.mock.calls.find(([url]) => String(url) === IMPORT)![1]!.headers);
    expect(headers.get("X-CSRFToken")).toBe("token");
  }, 15000); // types a whole form, then polls the import job

  it("leaves out the optional fields it was not given", async () => {
    const api = mockApi(marketRoutes({ [`POST ${IMPORT}`]: json(400, { detail: "stop here" }) }));
    const { user, form } = await openForm();
    await user.selectOptions(within(form).getByLabelText("Architecture"), "resnet18");
    await user.upload(within(form).getByLabelText("Weights file"), weightsFile("resnet.pth"));
    await user.click(within(form).getByRole("button", { name: "Import weights" }));

    expect(await within(form).findByRole("alert")).toHaveTextContent("stop here");
    const sent = sentForm(api.fetchMock);
    expect([...sent.keys()].sort()).toEqual(["architecture", "description", "input_size", "licence", "title", "visibility", "weights"]);
    expect([sent.get("input_size"), sent.get("visibility")]).toEqual(["224", "private"]);
  });

  it("shows a file that does not fit the architecture at the file, in plain words", async () => {
    const reason = "other.safetensors does not fit squeezenet1_1 with 3 classes: missing (52): classifier.1.bias, features.0.bias; unexpected (170): conv1.0.weight, fc.bias";
    // The worker refuses it: the job fails, and the refusal shows at the field as a 400 would.
    mockApi(marketRoutes({
      [`POST ${IMPORT}`]: json(202, makeImportJob({ kind: "torchvision" })),
      "GET /api/v1/market/imports/7/": json(200, makeImportJob({ kind: "torchvision", status: "failed", error: { code: "refused", field: "weights", message: reason } })),
    }));
    const { user, form } = await openForm();
    await user.selectOptions(within(form).getByLabelText("Architecture"), "squeezenet1_1");
    await user.upload(within(form).getByLabelText("Weights file"), weightsFile("other.safetensors"));
    await user.click(within(form).getByRole("button", { name: "Import weights" }));

    const file = within(form).getByLabelText("Weights file");
    expect(await within(form).findByText(/^These weights do not fit/, {}, { timeout: 3000 })).toHaveTextContent(
      `These weights do not fit squeezenet1_1 with 3 classes: 52 tensors that squeezenet1_1 needs are not in the file; 170 tensors in the file are not part of squeezenet1_1. Are these the weights of another architecture? (${reason})`,
    );
    expect(file).toHaveAttribute("aria-invalid", "true");
    expect(file).toHaveAccessibleDescription(expect.stringContaining("52 tensors that squeezenet1_1 needs"));
    expect(within(form).queryByRole("alert")).not.toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Model market" })).toBeInTheDocument();
  });

  it.each([
    ["weights", "Weights file", "evil.pt was refused: torch.load(weights_only=True) allows tensors and plain containers only, and this file needs more (it names builtins.open); it was not run.", /^This checkpoint needs more than tensors to load, so loading it could run code: it was refused, and nothing in it was run\./],
    ["architecture", "Architecture", "'resnet9000' is not supported; choose one of alexnet, resnet18", /^This installation cannot import that architecture; pick one from the list\./],
    ["classes", "Class names", "2 class names for a head of 3 classes", /^Give exactly one class name per output: the head has 3 outputs\./],
    ["input_size", "Input size", "Ensure this value is greater than or equal to 32.", /^Ensure this value is greater than or equal to 32\.$/],
  ])("shows a refused %s at its field", async (field, label, reason, shown) => {
    mockApi(marketRoutes({ [`POST ${IMPORT}`]: json(400, { [field]: [reason] }) }));
    const { user, form } = await openForm();
    await user.selectOptions(within(form).getByLabelText("Architecture"), "resnet18");
    await user.upload(within(form).getByLabelText("Weights file"), weightsFile("evil.pt"));
    await user.click(within(form).getByRole("button", { name: "Import weights" }));

    const message = await within(form).findByText(shown);
    expect(message).toHaveTextContent(reason);
    expect(within(form).getByLabelText(label)).toHaveAccessibleDescription(expect.stringContaining(message.textContent!));
  });

  it("asks for an architecture and a file before sending anything", async () => {
    const api = mockApi(marketRoutes({}));
    const { user, form } = await openForm();
    await user.click(within(form).getByRole("button", { name: "Import weights" }));

    expect(within(form).getByLabelText("Architecture")).toHaveAccessibleDescription("Choose the architecture the weights are for.");
    expect(within(form).getByLabelText("Weights file")).toHaveAccessibleDescription(expect.stringContaining("Choose a weights file"));
    expect(api.sent("POST", IMPORT)).toHaveLength(0);
  });
});
