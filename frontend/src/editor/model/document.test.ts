import { describe, expect, it } from "vitest";

import type { LayerSpec } from "../../api/layers";
import { inputPorts, outputPorts } from "./document";

function spec(extra: Partial<LayerSpec>): LayerSpec {
  return {
    id: "x",
    category: "Shape",
    doc: "",
    params_schema: { type: "object", properties: { chunks: { type: "integer", default: 2 } } },
    inputs: [{ name: "in", doc: "", optional: false }],
    variadic: null,
    outputs: [{ name: "out", doc: "" }],
    is_input: false,
    ...extra,
  } as LayerSpec;
}

describe("ports", () => {
  it("numbers variadic outputs from the parameter, with the schema default as fallback", () => {
    const chunk = spec({ outputs: [], variadic_outputs: { param: "chunks", prefix: "out" } });
    expect(outputPorts(chunk, { chunks: 3 })).toEqual(["out0", "out1", "out2"]);
    expect(outputPorts(chunk, {})).toEqual(["out0", "out1"]);
  });

  it("keeps fixed ports for ordinary layers", () => {
    const plain = spec({});
    expect(outputPorts(plain, {})).toEqual(["out"]);
    expect(inputPorts(plain, {})).toEqual(["in"]);
  });
});
