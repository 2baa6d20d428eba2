import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

import { forgetCsrfToken } from "../api/client";
import { initialSessionState, useSession } from "../stores/session";

afterEach(() => {
  cleanup();
  useSession.setState(initialSessionState);
  forgetCsrfToken();
  document.cookie = "csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/";
});
