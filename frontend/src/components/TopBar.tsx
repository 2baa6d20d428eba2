import { Link, NavLink, useNavigate } from "react-router-dom";

import { useSession } from "../stores/session";
import { HealthDot } from "./HealthDot";

export function TopBar() {
  const user = useSession((state) => state.user);
  const signOut = useSession((state) => state.signOut);
  const navigate = useNavigate();

  const handleSignOut = async () => {
    try {
      await signOut();
    } catch {
      // The store has forgotten the user either way; the sign-in page is the right place to be.
    }
    void navigate("/sign-in", { replace: true });
  };

  return (
    <header className="top-bar">
      <Link to={user ? "/projects" : "/sign-in"} className="top-bar__brand">
        <svg className="top-bar__logo" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
          <rect width="32" height="32" rx="7" />
          <g>
            <circle cx="9" cy="10" r="3" />
            <circle cx="9" cy="22" r="3" />
            <circle cx="23" cy="16" r="3" />
          </g>
          <path d="M11.5 11.5 20.5 15M11.5 20.5l9-3.5" />
        </svg>
        Visual Model Builder
      </Link>
      <HealthDot />
      {user && (
        <nav className="top-bar__nav" aria-label="Main">
          <NavLink className="button button--quiet" to="/market">
            Market
          </NavLink>
        </nav>
      )}
      {user && (
        <div className="top-bar__session">
          <span className="top-bar__user">
            Signed in as <strong>{user.username}</strong>
          </span>
          <button type="button" className="button button--quiet" onClick={() => void handleSignOut()}>
            Sign out
          </button>
        </div>
      )}
    </header>
  );
}
