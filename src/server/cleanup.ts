import type { DockerClient } from "../backend/docker/engine-api/client.js";
import { LABELS } from "../engine/labels.js";
import type { RemovalReport } from "../wire/responses.js";
import type { ServerContext } from "./context.js";

interface CleanupReport {
  ok: true;
  sessions: RemovalReport;
  containers: RemovalReport;
  images?: RemovalReport;
}

/**
 * POST /cleanup: stops every session and every idle warm engine, which
 * removes their containers. Only containers labelled with this server's own
 * `isol8.owner` are counted, and nothing else is touched: not another
 * process's containers, not containers of executions still running. The
 * server builds no images, so with `images` there is nothing of its own to
 * remove and the report says so with zeros.
 */
export async function cleanup(
  ctx: ServerContext,
  docker: DockerClient,
  images: boolean,
): Promise<CleanupReport> {
  const ours = async () =>
    new Set(
      (
        await docker.listContainers({
          all: true,
          filters: { label: [`${LABELS.owner}=${ctx.owner}`] },
        })
      ).map((c) => c.Id),
    );
  const before = await ours();
  const [sessions, engines] = await Promise.all([ctx.sessions.stopAll(), ctx.engines.stopIdle()]);
  const after = await ours();
  const removed = [...before].filter((id) => !after.has(id)).length;
  const report: CleanupReport = {
    ok: true,
    sessions,
    containers: { removed, failed: engines.errors.length, errors: engines.errors },
  };
  if (images) report.images = { removed: 0, failed: 0, errors: [] };
  return report;
}
