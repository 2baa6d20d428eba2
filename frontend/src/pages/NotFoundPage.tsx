import { Link } from "react-router-dom";

export function NotFoundPage() {
  return (
    <div className="page page--narrow page--centered">
      <h1>Page not found</h1>
      <p className="muted">There is nothing at this address.</p>
      <Link to="/projects">Go to your projects</Link>
    </div>
  );
}
