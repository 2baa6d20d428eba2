import { ApiError, apiRequest } from "./client";

export type HealthStatus = "ok" | "degraded";

export type HealthCheck = { ok: boolean } & Record<string, unknown>;

export interface Health {
  status: HealthStatus;
  checks: Record<string, HealthCheck>;
}

function isHealth(value: unknown): value is Health {
  if (value === null || typeof value !== "object") return false;
  const { status, checks } = value as Record<string, unknown>;
  return (status === "ok" || status === "degraded") && typeof checks === "object" && checks !== null;
}

/** The service's health. A degraded service may answer with an error status and a health body. */
export async function fetchHealth(signal?: AbortSignal): Promise<Health> {
  try {
    return await apiRequest<Health>("/healthz", { signal });
  } catch (error) {
    if (error instanceof ApiError && isHealth(error.body)) return error.body;
    throw error;
  }
}
