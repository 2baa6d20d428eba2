import { memo } from "react";
import { NavLink } from "react-router-dom";

/** The steps of a project's journey, in order. */
export const ProjectNav = memo(function ProjectNav({ projectId }: { projectId: string | number }) {
  const base = `/projects/${projectId}`;
  return (
    <nav className="project-nav" aria-label="Project sections">
      <NavLink end to={base}>
        Graphs
      </NavLink>
      <NavLink to={`${base}/datasets`}>Datasets</NavLink>
      <NavLink to={`${base}/train`}>Train</NavLink>
      <NavLink to={`${base}/models`}>Models &amp; deploy</NavLink>
    </nav>
  );
});
