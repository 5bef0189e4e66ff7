/**
 * E2B's envd filesystem service (filesystem.Filesystem over Connect) on an
 * isol8 sandbox's files API (src/sandbox/files.ts): the same places
 * (/sandbox, which E2B code calls /home/user, and /tmp), the same refusals
 * of paths that lead out, as the sandbox user. A watch comes streamed
 * (WatchDir) or polled (CreateWatcher, GetWatcherEvents), both bounded.
 */
import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Isol8WatchHandle } from "../../sandbox/api.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import type { FilesystemEvent } from "../../sandbox/types.js";
import { ReaderBacklog } from "../../server/reader-backlog.js";
import { envdEntry } from "./entries.js";
import { connectFileError } from "./file-errors.js";
import {
  EventType,
  type Filesystem,
  type FilesystemEventSchema,
  type WatchDirRequest,
  type WatchDirResponseSchema,
} from "./gen/envd/filesystem_pb.js";
import { type Counter, KEEPALIVE, withKeepalives } from "./limits.js";
import { sandboxPath } from "./paths.js";
import { sandboxOf } from "./sandbox-context.js";

type EventInit = MessageInitShape<typeof FilesystemEventSchema>;

const EVENT_TYPES: Record<FilesystemEvent["type"], EventType> = {
  create: EventType.CREATE,
  write: EventType.WRITE,
  remove: EventType.REMOVE,
  rename: EventType.RENAME,
  chmod: EventType.CHMOD,
};

/** Events a streamed watch's reader may fall behind by, in bytes of names (about). */
const WATCH_BACKLOG_BYTES = 1024 * 1024;
/** Events a polled watcher keeps between polls, in bytes (about); past that its next poll says events were lost. */
const WATCHER_BYTES_KEPT = 1024 * 1024;
/** Polled watchers one sandbox may hold at once. */
const WATCHERS_PER_SANDBOX = 16;
/** How often a streamed watch sends a keepalive when nothing happens. */
const KEEPALIVE_MS = 30_000;

function envdEvent(event: FilesystemEvent): EventInit {
  return { name: event.name, type: EVENT_TYPES[event.type] };
}

interface Watcher {
  sandbox: Sandbox;
  handle: Isol8WatchHandle | undefined;
  events: EventInit[];
  /** Bytes of `events`, about (names and a record's overhead). */
  bytes: number;
  lost: boolean;
  failure: Error | undefined;
}

/** What one event of a watch costs to keep, about. */
function eventBytes(event: FilesystemEvent): number {
  return 64 + event.name.length;
}

/** Polled watchers, by id, each of one sandbox. */
class Watchers {
  private readonly byId = new Map<string, Watcher>();
  /** Sandboxes whose end already removes their watchers. */
  private readonly tracked = new WeakSet<Sandbox>();

  async create(sandbox: Sandbox, path: string, recursive: boolean): Promise<string> {
    const held = [...this.byId.values()].filter((w) => w.sandbox === sandbox).length;
    if (held >= WATCHERS_PER_SANDBOX)
      throw new ConnectError(
        `this sandbox has ${held} watchers, its most; remove one first`,
        Code.ResourceExhausted,
      );
    // Its place is taken before the watch starts, so creates at once cannot pass the limit together.
    const id = randomUUID();
    const watcher: Watcher = {
      sandbox,
      handle: undefined,
      events: [],
      bytes: 0,
      lost: false,
      failure: undefined,
    };
    this.byId.set(id, watcher);
    if (!this.tracked.has(sandbox)) {
      this.tracked.add(sandbox);
      sandbox.onEnded(() => {
        for (const [key, w] of this.byId) if (w.sandbox === sandbox) this.byId.delete(key);
      });
    }
    try {
      watcher.handle = await sandbox.files.watchDir(
        path,
        (event) => {
          if (watcher.lost) return;
          watcher.bytes += eventBytes(event);
          if (watcher.bytes > WATCHER_BYTES_KEPT) {
            watcher.lost = true;
            watcher.events = [];
          } else watcher.events.push(envdEvent(event));
        },
        {
          recursive,
          onExit: (error) => {
            watcher.failure = error;
          },
        },
      );
    } catch (error) {
      this.byId.delete(id);
      connectFileError(error);
    }
    return id;
  }

  take(sandbox: Sandbox, id: string): EventInit[] {
    const watcher = this.find(sandbox, id);
    if (watcher.lost) {
      this.remove(sandbox, id);
      throw new ConnectError(
        `watcher ${id} lost events: more than ${WATCHER_BYTES_KEPT} bytes of them came between two polls; create another`,
        Code.DataLoss,
      );
    }
    const events = watcher.events.splice(0);
    watcher.bytes = 0;
    if (events.length === 0 && watcher.failure) {
      this.byId.delete(id);
      throw new ConnectError(`watcher ${id} ended: ${watcher.failure.message}`, Code.Aborted);
    }
    return events;
  }

  remove(sandbox: Sandbox, id: string): void {
    const watcher = this.find(sandbox, id);
    this.byId.delete(id);
    void watcher.handle?.stop();
  }

  private find(sandbox: Sandbox, id: string): Watcher {
    const watcher = this.byId.get(id);
    if (!watcher || watcher.sandbox !== sandbox || !watcher.handle)
      throw new ConnectError(`no watcher ${JSON.stringify(id)} in this sandbox`, Code.NotFound);
    return watcher;
  }
}

/** A streamed watch: its start, then the folder's events (keepalives between) until the client leaves. */
async function* watchEvents(
  sandbox: Sandbox,
  request: WatchDirRequest,
  context: HandlerContext,
): AsyncGenerator<MessageInitShape<typeof WatchDirResponseSchema>> {
  const backlog = new ReaderBacklog<EventInit>(WATCH_BACKLOG_BYTES);
  let failure: Error | undefined;
  const handle = await sandbox.files
    .watchDir(
      sandboxPath(request.path),
      (event) => backlog.push(envdEvent(event), 64 + event.name.length),
      {
        recursive: request.recursive,
        onExit: (error) => {
          failure = error;
          backlog.finish();
        },
      },
    )
    .catch(connectFileError);
  try {
    yield { event: { case: "start", value: {} } };
    for await (const item of withKeepalives(backlog, KEEPALIVE_MS, context.signal))
      yield item === KEEPALIVE
        ? { event: { case: "keepalive", value: {} } }
        : { event: { case: "filesystem", value: item } };
    if (context.signal.aborted) return;
    if (backlog.behind)
      throw new ConnectError(
        "this watch's reader fell behind its events; watch again",
        Code.ResourceExhausted,
      );
    if (failure) throw new ConnectError(`the watch ended: ${failure.message}`, Code.Aborted);
  } finally {
    await handle.stop();
  }
}

/** The filesystem service; `streams` bounds each sandbox's streams, processes' output included. */
export function filesystemService(streams: Counter<Sandbox>): ServiceImpl<typeof Filesystem> {
  const watchers = new Watchers();
  return {
    async stat(request, context) {
      const files = sandboxOf(context).files;
      const entry = await files.getInfo(sandboxPath(request.path)).catch(connectFileError);
      return { entry: envdEntry(entry) };
    },

    async makeDir(request, context) {
      const files = sandboxOf(context).files;
      const path = sandboxPath(request.path);
      const made = await files.makeDir(path).catch(connectFileError);
      if (!made) throw new ConnectError(`${request.path}: already exists`, Code.AlreadyExists);
      return { entry: envdEntry(await files.getInfo(path).catch(connectFileError)) };
    },

    async move(request, context) {
      const files = sandboxOf(context).files;
      const entry = await files
        .rename(sandboxPath(request.source), sandboxPath(request.destination))
        .catch(connectFileError);
      return { entry: envdEntry(entry) };
    },

    async listDir(request, context) {
      const files = sandboxOf(context).files;
      const entries = await files
        .list(sandboxPath(request.path), { depth: request.depth || 1 })
        .catch(connectFileError);
      return { entries: entries.map(envdEntry) };
    },

    async remove(request, context) {
      await sandboxOf(context).files.remove(sandboxPath(request.path)).catch(connectFileError);
      return {};
    },

    async *watchDir(request, context) {
      const sandbox = sandboxOf(context);
      yield* streams.during(sandbox, () => watchEvents(sandbox, request, context));
    },

    async createWatcher(request, context) {
      const sandbox = sandboxOf(context);
      const id = await watchers.create(sandbox, sandboxPath(request.path), request.recursive);
      return { watcherId: id };
    },

    async getWatcherEvents(request, context) {
      return { events: watchers.take(sandboxOf(context), request.watcherId) };
    },

    async removeWatcher(request, context) {
      watchers.remove(sandboxOf(context), request.watcherId);
      return {};
    },
  };
}
