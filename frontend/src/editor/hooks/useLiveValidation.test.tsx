import { act, render } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { layerSpecs, report } from "../../test/layers";
import { json, mockApi } from "../../test/mockApi";
import { resetGraphStore, useGraph } from "../stores/graphStore";
import { useLayers } from "../stores/layersStore";
import { useValidation } from "../stores/validationStore";
import { useLiveValidation } from "./useLiveValidation";

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

  it("waits for a pause in editing, then posts the document once", async () => {
    const api = mockApi({ "POST /api/v1/graphs/validate/": json(200, report()) });
    render(<Probe />);
    act(() => {
      useGraph.getState().addLayer("image_input");
      useGraph.getState().addLayerAfterSelection("conv2d");
    });
    await act(async () => vi.advanceTimersByTimeAsync(100));
    act(() => void useGraph.getState().addLayerAfterSelection("linear"));
    expect(api.sent("POST", "/api/v1/graphs/validate/")).toHaveLength(0);
    await act(async () => vi.advanceTimersByTimeAsync(300));
    const sent = api.sent("POST", "/api/v1/graphs/validate/");
    expect(sent).toHaveLength(1);
    expect(sent[0]?.body).toMatchObject({ batch_size: 32, document: { schema_version: 1 } });
    expect((sent[0]?.body as { document: { nodes: unknown[] } }).document.nodes).toHaveLength(3);
    expect(useValidation.getState().status).toBe("done");
  });

  it("aborts a request that an edit has superseded", async () => {
    const api = mockApi({ "POST /api/v1/graphs/validate/": json(200, report()) });
    render(<Probe />);
    await act(async () => vi.advanceTimersByTimeAsync(300));
    // The typed client sends a Request, whose signal follows the one the hook passed.
    const first = (api.fetchMock.mock.calls.at(-1)?.[0] as Request | undefined)?.signal;
    act(() => void useGraph.getState().addLayer("image_input"));
    expect(first?.aborted).toBe(true);
  });
});
