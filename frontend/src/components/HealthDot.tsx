import { useEffect, useState } from "react";

import { type Health, fetchHealth } from "../api/health";

const POLL_MS = 30_000;

type Indicator = "checking" | "ok" | "degraded" | "down";

const LABELS: Record<Indicator, string> = {
  checking: "checking",
  ok: "all systems operational",
  degraded: "degraded",
  down: "unreachable",
};

function describeChecks(health: Health): string {
  return Object.entries(health.checks)
    .map(([name, check]) => `${name}: ${check.ok ? "ok" : "failing"}`)
    .join(", ");
}

/** A small dot in the top bar showing /healthz, polled while the page is open. */
export function HealthDot() {
  const [indicator, setIndicator] = useState<Indicator>("checking");
  const [details, setDetails] = useState("");

  useEffect(() => {
    let controller = new AbortController();
    const check = () => {
      controller.abort();
      controller = new AbortController();
      const { signal } = controller;
      fetchHealth(signal).then(
        (health) => {
          if (signal.aborted) return;
          setIndicator(health.status);
          setDetails(describeChecks(health));
        },
        () => {
          if (signal.aborted) return;
          setIndicator("down");
          setDetails("");
        },
      );
    };
    check();
    const timer = window.setInterval(check, POLL_MS);
    return () => {
      window.clearInterval(timer);
      controller.abort();
    };
  }, []);

  const label = `Service status: ${LABELS[indicator]}`;
  return (
    <span
      className={`health-dot health-dot--${indicator}`}
      role="img"
      aria-label={label}
      title={details ? `${label} (${details})` : label}
    />
  );
}
