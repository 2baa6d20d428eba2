import { api, unwrap } from "./client";
import type { Graph } from "./graphs";
import type { Refine, Schemas } from "./types";

export interface TemplateSummary {
  id: string;
  name: string;
  description: string;
  task: string;
  modality: string;
}

// schema gap: `templates` is declared as a list of any objects; each is a TemplateSummary.
export type TemplateList = Refine<Schemas["TemplateList"], { templates: TemplateSummary[] }>;

export async function listTemplates(signal?: AbortSignal): Promise<TemplateList> {
  return (await unwrap(api.GET("/api/v1/templates/", { signal }))) as unknown as TemplateList;
}

export async function createFromTemplate(input: Schemas["FromTemplateRequest"]): Promise<Graph> {
  return (await unwrap(api.POST("/api/v1/graphs/from-template/", { body: input }))) as Graph;
}

export type TorchvisionImport = Schemas["FromTorchvisionRequest"];

export async function createFromTorchvision(input: TorchvisionImport): Promise<Graph> {
  return (await unwrap(api.POST("/api/v1/graphs/from-torchvision/", { body: input }))) as Graph;
}
