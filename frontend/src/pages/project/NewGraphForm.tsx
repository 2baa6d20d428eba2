import { type Graph, createGraph } from "../../api/graphs";
import { NamedItemForm } from "../../components/NamedItemForm";

interface NewGraphFormProps {
  projectId: number;
  onCreated: (graph: Graph) => void;
}

export function NewGraphForm({ projectId, onCreated }: NewGraphFormProps) {
  return (
    <NamedItemForm
      title="New graph"
      submitLabel="Create graph"
      create={(input) => createGraph({ project: projectId, ...input })}
      onCreated={onCreated}
    />
  );
}
