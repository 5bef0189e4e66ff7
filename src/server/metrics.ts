import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** How an execution ended, as the executions counter labels it. */
export type Outcome = "ok" | "nonzero" | "timeout" | "oom" | "cancelled" | "failed";

/** What /metrics reads from the rest of the server when it is scraped. */
interface MetricsSources {
  queued(): number;
  running(): number;
  sessions(): number;
  engines(): number;
}

/**
 * The server's Prometheus metrics, in a registry of its own (not prom-client's
 * global one) so that several servers in one process do not mix.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly executions: Counter<"runtime" | "outcome">;
  private readonly latency: Histogram<"runtime">;
  private readonly requests: Counter<"method" | "route" | "status">;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.executions = new Counter({
      name: "isol8_executions_total",
      help: "Executions by runtime and outcome",
      labelNames: ["runtime", "outcome"],
      registers,
    });
    this.latency = new Histogram({
      name: "isol8_execution_duration_seconds",
      help: "Wall time of executions, from admission to result",
      labelNames: ["runtime"],
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.requests = new Counter({
      name: "isol8_http_requests_total",
      help: "HTTP requests by method, route and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge("isol8_queue_depth", "Executions waiting for a slot", sources.queued);
    gauge("isol8_executions_running", "Executions running now", sources.running);
    gauge("isol8_sessions", "Persistent sessions open", sources.sessions);
    gauge("isol8_engines", "Warm ephemeral engines (one per options set)", sources.engines);
  }

  execution(runtime: string, outcome: Outcome, seconds?: number): void {
    this.executions.inc({ runtime, outcome });
    if (seconds !== undefined) this.latency.observe({ runtime }, seconds);
  }

  request(method: string, route: string, status: number): void {
    this.requests.inc({ method, route, status: String(status) });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
