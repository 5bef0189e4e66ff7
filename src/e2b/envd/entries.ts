/** isol8's file entries as envd's EntryInfo, with E2B's paths. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { EntryInfo } from "../../sandbox/types.js";
import { type EntryInfoSchema, FileType } from "./gen/envd/filesystem_pb.js";
import { e2bPath } from "./paths.js";

const TYPES: Partial<Record<EntryInfo["type"], FileType>> = {
  file: FileType.FILE,
  dir: FileType.DIRECTORY,
  symlink: FileType.SYMLINK,
};

export function envdEntry(entry: EntryInfo): MessageInitShape<typeof EntryInfoSchema> {
  return {
    name: entry.name,
    type: TYPES[entry.type] ?? FileType.UNSPECIFIED,
    path: e2bPath(entry.path),
    size: BigInt(entry.size),
    mode: entry.mode,
    permissions: entry.permissions,
    // Every file a sandbox process can make is the sandbox user's, which E2B calls "user".
    owner: "user",
    group: "user",
    modifiedTime: timestampFromDate(entry.modifiedTime),
    ...(entry.symlinkTarget === undefined ? {} : { symlinkTarget: entry.symlinkTarget }),
  };
}
