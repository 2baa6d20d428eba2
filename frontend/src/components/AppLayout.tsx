import { Outlet } from "react-router-dom";

import { TopBar } from "./TopBar";

/**
 * The frame around every page: the top bar and a main area that fills the rest of the window,
 * so a full-bleed page (the model canvas) can take all of it while others center a column.
 */
export function AppLayout() {
  return (
    <div className="app-shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <TopBar />
      <main id="main" className="app-main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
