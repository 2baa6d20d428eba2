import { Navigate, Outlet, useLocation } from "react-router-dom";

import { useSession } from "../stores/session";

const HOME = "/projects";

interface RedirectState {
  /** Where a signed-out visitor was headed, to return there after signing in. */
  from?: string;
}

function redirectTarget(state: unknown): string {
  const from = (state as RedirectState | null)?.from;
  if (typeof from !== "string" || !from.startsWith("/") || from.startsWith("//")) return HOME;
  return from.startsWith("/sign-") ? HOME : from;
}

function SessionLoading() {
  return (
    <p className="page page--centered muted" role="status">
      Loading…
    </p>
  );
}

/** Lets signed-in users through; sends everyone else to the sign-in page. */
export function RequireAuth() {
  const status = useSession((state) => state.status);
  const user = useSession((state) => state.user);
  const location = useLocation();

  if (status !== "ready") return <SessionLoading />;
  if (!user) {
    const from: RedirectState = { from: `${location.pathname}${location.search}` };
    return <Navigate to="/sign-in" replace state={from} />;
  }
  return <Outlet />;
}

/** The sign-in and sign-up pages: a signed-in user goes on to where they were headed. */
export function GuestOnly() {
  const status = useSession((state) => state.status);
  const user = useSession((state) => state.user);
  const location = useLocation();

  if (status !== "ready") return <SessionLoading />;
  if (user) return <Navigate to={redirectTarget(location.state)} replace />;
  return <Outlet />;
}
