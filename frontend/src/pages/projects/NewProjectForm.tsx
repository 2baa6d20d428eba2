import { type Project, createProject } from "../../api/projects";
import { NamedItemForm } from "../../components/NamedItemForm";

interface NewProjectFormProps {
  onCreated: (project: Project) => void;
}

export function NewProjectForm({ onCreated }: NewProjectFormProps) {
  return (
    <NamedItemForm title="New project" submitLabel="Create project" create={createProject} onCreated={onCreated} />
  );
}
