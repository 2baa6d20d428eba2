import { memo, useEffect } from "react";

import { canEdit, listProjects } from "../../api/projects";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField } from "../../components/FormField";
import { useResource } from "../../hooks/useResource";

interface ProjectPickerProps {
  label: string;
  value: string;
  onChange: (projectId: string) => void;
  errors?: readonly string[];
}

/** One of the projects the user may change (owner or editor); picks the first once they load. */
export const ProjectPicker = memo(function ProjectPicker({ label, value, onChange, errors }: ProjectPickerProps) {
  const projects = useResource("editable-projects", (signal) => listProjects({}, signal));
  const editable = (projects.data?.results ?? []).filter((project) => canEdit(project.role));
  const first = editable[0]?.id;
  useEffect(() => {
    if (value === "" && first !== undefined) onChange(String(first));
  }, [value, first, onChange]);
  return (
    <>
      <ErrorAlert message={projects.error?.message} />
      <SelectField
        label={label}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        errors={errors}
        options={editable.length ? editable.map((p) => ({ value: String(p.id), label: p.name })) : [{ value: "", label: projects.loading ? "Loading projects…" : "No project you can edit" }]}
      />
    </>
  );
});
