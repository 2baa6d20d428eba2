import { act, render } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { layerSpecs, report } from "../../test/layers";
import { json, mockApi } from "../../test/mockApi";
import { resetGraphStore, useGraph } from "../stores/graphStore";
import { useLayers } from "../stores/layersStore";
import { useValidation } from "../stores/validationStore";
import { BURST_DELAY_MS, useLiveValidation } from "./useLiveValidation";

function Probe() {
  useLiveValidation();
  return null;
}

describe("useLiveValidation", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    resetGraphStore();
    useValidation.getState().reset();
    useLayers.getState().setLayers(layerSpecs);
    document.cookie = "csrftoken=t; path=/";
  });
  afterEach(() => vi.useRealTimers());

  it("checks a commit at once, with no debounce", async () => {
    const api = mockApi({ "POST /api/v1/graphs/validate/": json(200, report()) });
    render(<Probe />);
    await act(async () => vi.advanceTimersByTimeAsync(0));
    const before = api.sent("POST", "/api/v1/graphs/validate/").length;
    act(() => void useGraph.getState().addLayer("image_input"));
    act(() => void useGraph.getState().addLayerAfterSelection("conv2d"));
    // No timer runs: each request leaves as its edit lands.
    await act(async () => Promise.resolve());
    const sent = api.sent("POST", "/api/v1/graphs/validate/");
    expect(sent).toHaveLength(before + 2);
    expect(sent.at(-1)?.body).toMatchObject({ batch_size: 32, document: { schema_version: 1 } });
    expect((sent.at(-1)?.body as { document: { nodes: unknown[] } }).document.nodes).toHaveLength(2);
    await act(async () => vi.advanceTimersByTimeAsync(0));
    expect(useValidation.getState().status).toBe("done");
  });

  it("waits for a pause while the batch size is typed, then posts once", async () => {
    const api = mockApi({ "POST /api/v1/graphs/validate/": json(200, report()) });
    render(<Probe />);
    await act(async () => vi.advanceTimersByTimeAsync(0));
    const before = api.sent("POST", "/api/v1/graphs/validate/").length;
    act(() => useValidation.getState().setBatchSize(6));
    await act(async () => vi.advanceTimersByTimeAsync(BURST_DELAY_MS / 2));
    act(() => useValidation.getState().setBatchSize(64));
    await act(async () => vi.advanceTimersByTimeAsync(BURST_DELAY_MS / 2));
    expect(api.sent("POST", "/api/v1/graphs/validate/")).toHaveLength(before);
    await act(async () => vi.advanceTimersByTimeAsync(BURST_DELAY_MS));
    const sent = api.sent("POST", "/api/v1/graphs/validate/");
    expect(sent).toHaveLength(before + 1);
    expect(sent.at(-1)?.body).toMatchObject({ batch_size: 64 });
  });

  it("aborts a request that an edit has superseded", async () => {
    const api = mockApi({ "POST /api/v1/graphs/validate/": json(200, report()) });
    render(<Probe />);
    await act(async () => vi.advanceTimersByTimeAsync(0));
    // The typed client sends a Request, whose signal follows the one the hook passed.
    const first = (api.fetchMock.mock.calls.at(-1)?.[0] as Request | undefined)?.signal;
    act(() => void useGraph.getState().addLayer("image_input"));
    expect(first?.aborted).toBe(true);
  });
});
