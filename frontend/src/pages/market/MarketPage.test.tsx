import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ada, page } from "../../test/fixtures";
import { type RecordedRequest, json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";
import { makeEntry, makeImportJob } from "./marketFixtures";

const template = makeEntry({ id: 8, title: "LeNet-5", kind: "template", latest_accuracy: null, latest_params: 61_706, author: "market", visibility: "private", stars: 0, forks: 4, downloads: 9 });

describe("MarketPage", () => {
  it("shows each entry's figures and sends the filters and sort as the API's query", async () => {
    const api = mockApi({
      "GET /api/v1/market/entries/": (request: RecordedRequest) =>
        json(200, page(request.query.get("kind") === "template" ? [template] : [makeEntry(), template], request.query.get("page") === "2" ? {} : { next: "/api/v1/market/entries/?page=2" })),
    });
    const { user } = renderApp("/market", { user: ada });

    const card = await screen.findByRole("listitem", { name: "Digits classifier" });
    expect(within(card).getByRole("link", { name: "Digits classifier" })).toHaveAttribute("href", "/market/7");
    for (const text of ["classification · image", "12.3k", "95.3%", "ada", "public"]) expect(within(card).getByText(text)).toBeInTheDocument();
    const figures = within(card).getAllByRole("definition").map((dd) => dd.textContent);
    expect(figures).toEqual(["12.3k", "95.3%", "2", "1", "5"]);
    expect(screen.getByRole("link", { name: "Market" })).toHaveAttribute("href", "/market");

    await user.type(screen.getByRole("searchbox", { name: "Search" }), "lenet");
    await user.click(screen.getByRole("button", { name: "Search" }));
    await user.selectOptions(screen.getByLabelText("Kind"), "template");
    await user.selectOptions(screen.getByLabelText("Size"), "tiny");
    await user.selectOptions(screen.getByLabelText("Sort by"), "popularity");
    await screen.findByText("1 result");
    expect(screen.queryByRole("listitem", { name: "Digits classifier" })).not.toBeInTheDocument();

    const last = api.sent("GET", "/api/v1/market/entries/").at(-1)!;
    expect(Object.fromEntries(last.query)).toEqual({ q: "lenet", kind: "template", max_params: "100000", sort: "popularity", page_size: "12" });
  });

  it("pages through the results", async () => {
    const api = mockApi({
      "GET /api/v1/market/entries/": (request: RecordedRequest) =>
        json(200, request.query.get("page") === "2" ? page([template], { previous: "/x" }) : page([makeEntry()], { next: "/x?page=2" })),
    });
    const { user } = renderApp("/market?sort=stars", { user: ada });
    await screen.findByRole("listitem", { name: "Digits classifier" });
    await user.click(screen.getByRole("button", { name: "Next page" }));
    expect(await screen.findByRole("listitem", { name: "LeNet-5" })).toBeInTheDocument();
    expect(api.sent("GET", "/api/v1/market/entries/").at(-1)!.query.get("page")).toBe("2");
    expect(api.sent("GET", "/api/v1/market/entries/").at(-1)!.query.get("sort")).toBe("stars");
  });

  it("says in plain words why a tampered bundle was refused", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/market/entries/": json(200, page([])),
      "GET /api/v1/templates/": json(200, { templates: [], torchvision: ["resnet18"] }),
      "POST /api/v1/market/import/": json(400, {
        file: ["weights.safetensors: weights.safetensors does not match the SHA-256 in manifest.json; the bundle was changed after it was made"],
      }),
    });
    const { user } = renderApp("/market", { user: ada });
    expect(await screen.findByText("The market is empty.")).toBeInTheDocument();

    await user.upload(screen.getByLabelText("Bundle file"), new File(["PK"], "digits.zip", { type: "application/zip" }));
    await user.click(screen.getByRole("button", { name: "Import bundle" }));

    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent(/^The bundle was changed after it was exported: a file no longer matches its checksum\. Nothing was imported\./);
    expect(alert).toHaveTextContent("weights.safetensors does not match the SHA-256");
    const sent = api.fetchMock.mock.calls.find(([url]) => String(url) === "/api/v1/market/import/")!;
    const form = sent[1]!.body as FormData;
    expect((form.get("file") as File).name).toBe("digits.zip");
    expect(form.get("visibility")).toBe("private");
  });

  it("shows the import job's progress, then opens the imported entry from the notice", async () => {
    let polls = 0;
    mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/market/entries/": json(200, page([])),
      "GET /api/v1/templates/": json(200, { templates: [], torchvision: ["resnet18"] }),
      "POST /api/v1/market/import/": json(202, makeImportJob()),
      "GET /api/v1/market/imports/7/": () =>
        (polls += 1) === 1
          ? json(200, makeImportJob({ status: "running", progress: 0.4, stage: "checking the SHA-256 of weights.safetensors" }))
          : json(200, makeImportJob({ status: "succeeded", progress: 1, entry: 12, version: 40, entry_title: "Imported digits" })),
      "GET /api/v1/market/entries/12/": json(200, makeEntry({ id: 12, title: "Imported digits" })),
    });
    const { user } = renderApp("/market", { user: ada });
    await user.upload(await screen.findByLabelText("Bundle file"), new File(["PK"], "digits.zip"));
    await user.selectOptions(screen.getByLabelText("Visibility of the import"), "public");
    await user.click(screen.getByRole("button", { name: "Import bundle" }));
    expect(await screen.findByText("Checking the SHA-256 of weights.safetensors (40%)")).toBeInTheDocument();
    expect(screen.getByRole("progressbar", { name: "Importing digits.zip" })).toHaveAttribute("value", "0.4");
    expect(await screen.findByRole("link", { name: "Imported digits" }, { timeout: 3000 })).toHaveAttribute("href", "/market/12");
    expect(screen.queryByRole("progressbar")).not.toBeInTheDocument();
  });

  it("says in plain words why the worker refused a bundle", async () => {
    mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/market/entries/": json(200, page([])),
      "GET /api/v1/templates/": json(200, { templates: [], torchvision: ["resnet18"] }),
      "POST /api/v1/market/import/": json(202, makeImportJob()),
      "GET /api/v1/market/imports/7/": json(200, makeImportJob({
        status: "failed",
        error: { code: "refused", field: "file", message: "weights.safetensors does not fit graph.json: missing ['fc.bias'], unexpected [], wrong shape []" },
      })),
    });
    const { user } = renderApp("/market", { user: ada });
    await user.upload(await screen.findByLabelText("Bundle file"), new File(["PK"], "digits.zip"));
    await user.click(screen.getByRole("button", { name: "Import bundle" }));
    const alert = await screen.findByRole("alert", {}, { timeout: 3000 });
    expect(alert).toHaveTextContent(/^The weights in the bundle do not fit its graph\. Nothing was imported\./);
    expect(alert).toHaveTextContent("missing ['fc.bias']");
  });
});
