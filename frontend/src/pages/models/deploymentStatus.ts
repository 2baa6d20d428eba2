import type { components } from "../../api/schema";

type JobStatus = components["schemas"]["JobStatusEnum"];

/** A deployment is a job (queued, running, succeeded, failed, cancelled); people read it as an
 * endpoint: deploying while its folder is prepared, ready while it is live, stopped once ended. */
export function deploymentLabel(status: JobStatus): string {
  switch (status) {
    case "queued":
    case "running":
      return "deploying";
    case "succeeded":
      return "ready";
    case "cancelled":
      return "stopped";
    default:
      return status;
  }
}
