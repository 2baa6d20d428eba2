import { apiRequest } from "./client";
import type { Graph } from "./graphs";

export interface TemplateSummary {
  id: string;
  name: string;
  description: string;
  task: string;
  modality: string;
}

export interface TemplateList {
  templates: TemplateSummary[];
  /** Architecture names accepted by POST /graphs/from-torchvision/. */
  torchvision: string[];
}

export function listTemplates(signal?: AbortSignal): Promise<TemplateList> {
  return apiRequest("/api/v1/templates/", { signal });
}

export function createFromTemplate(input: { project: number; template: string; name?: string }): Promise<Graph> {
  return apiRequest("/api/v1/graphs/from-template/", { method: "POST", body: input });
}

export interface TorchvisionImport {
  project: number;
  architecture: string;
  num_classes?: number;
  input_size?: number;
  name?: string;
}

export function createFromTorchvision(input: TorchvisionImport): Promise<Graph> {
  return apiRequest("/api/v1/graphs/from-torchvision/", { method: "POST", body: input });
}
