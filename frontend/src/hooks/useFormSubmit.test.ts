import { describe, expect, it } from "vitest";

import { ApiError } from "../api/client";
import { toFormErrors } from "./useFormSubmit";

describe("toFormErrors", () => {
  it("keeps the form's own fields and moves the rest into the general message", () => {
    const error = new ApiError(400, "Check the form.", { name: ["Required."], owner: ["Not allowed."] });

    expect(toFormErrors(error, ["name", "description"])).toEqual({
      general: "Check the form. owner: Not allowed.",
      fields: { name: ["Required."] },
    });
  });

  it("falls back to the error's message when nothing else describes it", () => {
    expect(toFormErrors(new ApiError(500, null), ["name"])).toEqual({
      general: "Request failed with status 500.",
      fields: {},
    });
  });
});
