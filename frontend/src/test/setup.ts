import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";

import { forgetCsrfToken } from "../api/client";
import { initialSessionState, useSession } from "../stores/session";

// findBy* and waitFor wait up to 5 s (the library's default is 1 s): on a loaded 2-core machine a
// page's first render with its fetches can take longer than 1 s, and a passing test waits no longer.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => {
  cleanup();
  useSession.setState(initialSessionState);
  forgetCsrfToken();
  document.cookie = "csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/";
});
