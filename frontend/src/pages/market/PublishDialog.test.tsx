import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { describe, expect, it } from "vitest";

import { useSession } from "../../stores/session";
import { ada, page } from "../../test/fixtures";
import { json, mockApi } from "../../test/mockApi";
import { PublishButton } from "./PublishButton";
import { makeEntry } from "./marketFixtures";

function renderPublish(source: { run: number } | { graph_version: number }, kind: "model" | "template") {
  useSession.setState({ user: ada, status: "ready" });
  const user = userEvent.setup();
  render(
    <MemoryRouter initialEntries={["/here"]}>
      <Routes>
        <Route path="/here" element={<PublishButton source={source} kind={kind} defaultTitle="digits v3 (run 4)" label="Publish" />} />
        <Route path="/market/:entryId" element={<p>Entry page</p>} />
      </Routes>
    </MemoryRouter>,
  );
  return user;
}

describe("PublishDialog", () => {
  it("publishes a trained model as a new entry and opens it", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/market/entries/": json(200, page([])),
      "POST /api/v1/market/entries/": json(201, makeEntry({ id: 21 })),
    });
    const user = renderPublish({ run: 4 }, "model");
    await user.click(screen.getByRole("button", { name: "Publish" }));
    const dialog = screen.getByRole("dialog", { name: "Publish the model to the market" });
    const title = within(dialog).getByLabelText("Title");
    expect(title).toHaveValue("digits v3 (run 4)");
    await user.clear(title);
    await user.type(title, "Digits classifier");
    await user.type(within(dialog).getByLabelText("Licence"), "MIT");
    await user.selectOptions(within(dialog).getByLabelText("Visibility"), "public");
    await user.click(within(dialog).getByRole("button", { name: "Publish" }));

    expect(await screen.findByText("Entry page")).toBeInTheDocument();
    expect(api.sent("POST", "/api/v1/market/entries/")[0]?.body).toMatchObject({ run: 4, title: "Digits classifier", licence: "MIT", visibility: "public" });
    expect(api.sent("GET", "/api/v1/market/entries/")[0]?.query.get("kind")).toBe("model");
  });

  it("publishes a new version of the user's own entry, and shows a refusal where it happened", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/market/entries/": json(200, page([makeEntry({ id: 8, title: "LeNet", kind: "template", latest_version: 1 }), makeEntry({ id: 9, title: "Someone else's", author: "bob" })])),
      "POST /api/v1/market/entries/8/versions/": json(400, { graph_version: ["the graph is not valid: linear needs [N,F]"] }),
    });
    const user = renderPublish({ graph_version: 12 }, "template");
    await user.click(screen.getByRole("button", { name: "Publish" }));
    const dialog = screen.getByRole("dialog", { name: "Publish the graph as a template" });
    const target = within(dialog).getByLabelText("Publish as");
    await waitFor(() => expect(within(target).getAllByRole("option")).toHaveLength(2));
    expect(within(target).queryByRole("option", { name: /Someone else's/ })).not.toBeInTheDocument();
    await user.selectOptions(target, "8");
    expect(within(dialog).getByLabelText("Title")).toHaveValue("LeNet");
    await user.type(within(dialog).getByLabelText("What changed"), "wider");
    await user.click(within(dialog).getByRole("button", { name: "Publish" }));

    expect(await within(dialog).findByRole("alert")).toHaveTextContent("graph_version: the graph is not valid: linear needs [N,F]");
    expect(api.sent("POST", "/api/v1/market/entries/8/versions/")[0]?.body).toMatchObject({ graph_version: 12, title: "LeNet", changelog: "wider" });
    expect(screen.queryByText("Entry page")).not.toBeInTheDocument();
  });
});
