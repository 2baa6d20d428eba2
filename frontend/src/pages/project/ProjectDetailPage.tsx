import { useState } from "react";
import { Link, useParams } from "react-router-dom";

import { type Graph, listGraphs } from "../../api/graphs";
import { type Project, canEdit, getProject } from "../../api/projects";
import { ErrorAlert } from "../../components/ErrorAlert";
import { Pagination } from "../../components/Pagination";
import { ProjectNav } from "../../components/ProjectNav";
import { useResource } from "../../hooks/useResource";
import { formatDate } from "../../lib/format";
import { PublishButton } from "../market/PublishButton";
import { NewGraphForm } from "./NewGraphForm";
import { TemplateGallery } from "./TemplateGallery";

/** One project: its description and its graphs, with a form to add a graph. */
export function ProjectDetailPage() {
  const { projectId = "" } = useParams();
  const project = useResource(projectId, (signal) => getProject(projectId, signal));

  if (project.error) {
    return (
      <div className="page page--narrow page--centered">
        <h1>{project.error.status === 404 ? "Project not found" : "Could not load the project"}</h1>
        {project.error.status !== 404 && <ErrorAlert message={project.error.message} />}
        <Link to="/projects">Back to all projects</Link>
      </div>
    );
  }
  if (!project.data) {
    return (
      <p className="page muted" role="status">
        Loading project…
      </p>
    );
  }
  return <ProjectDetail key={project.data.id} project={project.data} />;
}

function ProjectDetail({ project }: { project: Project }) {
  const [page, setPage] = useState(1);
  const [notice, setNotice] = useState<string | null>(null);
  const graphs = useResource(`${project.id}\u0000${page}`, (signal) => listGraphs(project.id, page, signal));
  const editable = canEdit(project.role);

  const handleCreated = (graph: Graph) => {
    setNotice(`Created graph “${graph.name}”.`);
    if (page === 1) graphs.reload();
    else setPage(1);
  };

  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link to="/projects">Projects</Link>
      </nav>
      <div className="page__header">
        <h1>{project.name}</h1>
        <span className={`badge badge--${project.role}`}>{project.role}</span>
      </div>
      {project.description && <p className="page__lead">{project.description}</p>}
      <ProjectNav projectId={project.id} />

      <div className="page__columns">
        <section aria-labelledby="graphs-heading">
          <h2 id="graphs-heading">Graphs</h2>
          <p className="notice" role="status">
            {notice}
          </p>
          <ErrorAlert message={graphs.error?.message} />
          {graphs.loading && !graphs.data && <p className="muted">Loading graphs…</p>}
          {graphs.data && graphs.data.results.length === 0 && (
            <p className="empty-state">
              {editable ? "No graphs yet. Create one to start designing a model." : "This project has no graphs yet."}
            </p>
          )}
          {graphs.data && graphs.data.results.length > 0 && (
            <ul className="card-list" aria-label="Graphs">
              {graphs.data.results.map((graph) => (
                <GraphListItem key={graph.id} graph={graph} editable={editable} />
              ))}
            </ul>
          )}
          {graphs.data && (
            <Pagination
              label="Graphs"
              page={page}
              hasPrevious={graphs.data.previous !== null}
              hasNext={graphs.data.next !== null}
              onPageChange={setPage}
            />
          )}
        </section>
        {editable ? (
          <NewGraphForm projectId={project.id} onCreated={handleCreated} />
        ) : (
          <p className="card muted">You can view this project. Ask its owner for editor access to add graphs.</p>
        )}
      </div>
      {editable && <TemplateGallery projectId={project.id} />}
    </div>
  );
}

function GraphListItem({ graph, editable }: { graph: Graph; editable: boolean }) {
  return (
    <li className="card card--link">
      <Link className="card__title" to={`/projects/${graph.project}/graphs/${graph.id}`}>
        {graph.name}
      </Link>
      {graph.description && <p className="card__text">{graph.description}</p>}
      <p className="card__meta">
        {graph.latest_version ? `Version ${graph.latest_version.number}` : "Not saved yet"} · Updated{" "}
        {formatDate(graph.updated_at)}
      </p>
      {editable && graph.latest_version?.is_valid && (
        <PublishButton
          source={{ graph_version: graph.latest_version.id }}
          kind="template"
          defaultTitle={graph.name}
          label="Publish as template"
          ariaLabel={`Publish ${graph.name} as a template`}
          className="button button--small"
        />
      )}
    </li>
  );
}
