import { Link, useParams } from "react-router-dom";

/**
 * Where the model canvas (`@xyflow/react`) will live. Until it lands, the route exists so that
 * graph links resolve and the layout for a full-window page is in place.
 */
export function GraphEditorPage() {
  const { projectId = "" } = useParams();
  return (
    <div className="page--full">
      <div className="placeholder">
        <h1>Graph editor</h1>
        <p className="muted">The model canvas is not available yet.</p>
        <Link to={`/projects/${encodeURIComponent(projectId)}`}>Back to the project</Link>
      </div>
    </div>
  );
}
