import { render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";

import { App } from "../App";
import type { User } from "../api/auth";
import { useSession } from "../stores/session";

interface RenderAppOptions {
  /** A signed-in user, null for signed out, undefined to let the app ask /auth/session/. */
  user?: User | null;
}

/** Renders the whole app at `path`, as the browser would after a full page load. */
export function renderApp(path: string, { user }: RenderAppOptions = {}) {
  if (user !== undefined) useSession.setState({ user, status: "ready" });
  const events = userEvent.setup();
  const result = render(
    <MemoryRouter initialEntries={[path]}>
      <App />
    </MemoryRouter>,
  );
  return { user: events, ...result };
}
