import { type FormEvent, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";

import { type Project, listProjects } from "../../api/projects";
import { ErrorAlert } from "../../components/ErrorAlert";
import { Pagination } from "../../components/Pagination";
import { useResource } from "../../hooks/useResource";
import { formatDate } from "../../lib/format";
import { NewProjectForm } from "./NewProjectForm";

function pageFrom(params: URLSearchParams): number {
  const page = Number(params.get("page"));
  return Number.isInteger(page) && page > 0 ? page : 1;
}

/** The signed-in user's projects. Page and search text live in the URL so they survive reloads. */
export function ProjectsPage() {
  const [params, setParams] = useSearchParams();
  const page = pageFrom(params);
  const search = params.get("search") ?? "";
  const [searchText, setSearchText] = useState(search);
  const [shownSearch, setShownSearch] = useState(search);
  if (shownSearch !== search) {
    // The URL changed under us (back button, a link): show its search text in the box.
    setShownSearch(search);
    setSearchText(search);
  }
  const [notice, setNotice] = useState<string | null>(null);
  const projects = useResource(`${page}\u0000${search}`, (signal) => listProjects({ page, search }, signal));

  const showPage = (nextPage: number, nextSearch = search) => {
    const next = new URLSearchParams();
    if (nextSearch) next.set("search", nextSearch);
    if (nextPage > 1) next.set("page", String(nextPage));
    setParams(next);
  };

  const handleSearch = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    showPage(1, searchText.trim());
  };

  const handleCreated = (project: Project) => {
    setNotice(`Created project “${project.name}”.`);
    if (page === 1 && search === "") projects.reload();
    else showPage(1, "");
  };

  const data = projects.data;
  return (
    <div className="page">
      <div className="page__header">
        <h1>Projects</h1>
        <form className="search" role="search" onSubmit={handleSearch}>
          <label className="visually-hidden" htmlFor="project-search">
            Search projects
          </label>
          <input
            id="project-search"
            className="field__control"
            type="search"
            placeholder="Search projects"
            value={searchText}
            onChange={(event) => setSearchText(event.target.value)}
          />
          <button type="submit" className="button">
            Search
          </button>
        </form>
      </div>

      <div className="page__columns">
        <section>
          <p className="notice" role="status">
            {notice}
          </p>
          <ErrorAlert message={projects.error?.message} />
          {projects.loading && !data && <p className="muted">Loading projects…</p>}
          {data && data.results.length === 0 && (
            <p className="empty-state">
              {search
                ? `No projects match “${search}”.`
                : "You have no projects yet. Create your first one to start building a model."}
            </p>
          )}
          {data && data.results.length > 0 && (
            <ul className="card-list" aria-label="Projects">
              {data.results.map((project) => (
                <ProjectListItem key={project.id} project={project} />
              ))}
            </ul>
          )}
          {data && (
            <Pagination
              label="Projects"
              page={page}
              hasPrevious={data.previous !== null}
              hasNext={data.next !== null}
              onPageChange={(next) => showPage(next)}
            />
          )}
        </section>
        <NewProjectForm onCreated={handleCreated} />
      </div>
    </div>
  );
}

function ProjectListItem({ project }: { project: Project }) {
  return (
    <li className="card card--link">
      <div className="card__title-row">
        <Link className="card__title" to={`/projects/${project.id}`}>
          {project.name}
        </Link>
        <span className={`badge badge--${project.role}`}>{project.role}</span>
      </div>
      {project.description && <p className="card__text">{project.description}</p>}
      <p className="card__meta">
        Owner {project.owner.username} · Updated {formatDate(project.updated_at)}
      </p>
    </li>
  );
}
