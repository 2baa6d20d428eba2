import { Fragment } from "react";
import { Link } from "react-router-dom";

import { getProject } from "../api/projects";
import { useResource } from "../hooks/useResource";
import "./projectCrumbs.css";

export interface Crumb {
  label: string;
  /** Absent for the page itself (the last crumb). */
  to?: string;
}

/**
 * Breadcrumbs that name the project on every page of it: Projects / <project name> / section /
 * page. The name loads with the page; "Project <id>" stands in until it does.
 */
export function ProjectCrumbs({ projectId, trail = [] }: { projectId: string | number; trail?: Crumb[] }) {
  const project = useResource(`crumb-project-${projectId}`, (signal) => getProject(projectId, signal));
  const name = project.data?.name ?? `Project ${projectId}`;
  return (
    <nav className="breadcrumbs breadcrumbs--trail" aria-label="Breadcrumb">
      <Link to="/projects">Projects</Link> / <Link to={`/projects/${projectId}`}>{name}</Link>
      {trail.map((crumb) => (
        <Fragment key={crumb.label}>
          {" / "}
          {crumb.to ? (
            <Link to={crumb.to}>{crumb.label}</Link>
          ) : (
            <span aria-current="page">{crumb.label}</span>
          )}
        </Fragment>
      ))}
    </nav>
  );
}
