import { extname } from "node:path";
import { RemoteCodeError } from "./policy.js";

/** A GitHub user or organization name: letters, digits and inner hyphens, at most 39. */
const GITHUB_OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$/;
const GITHUB_REPO = /^[A-Za-z0-9._-]+$/;
/** Gist ids are hexadecimal (older ones decimal, which is hexadecimal too). */
const GIST_ID = /^[0-9a-f]+$/i;

function invalid(flag: string, spec: string, form: string): never {
  throw new RemoteCodeError("invalid", `${flag}: ${JSON.stringify(spec)} is not ${form}`);
}

/** A path segment that means itself once encoded: not empty, `.` or `..`, no controls or backslash. */
function segmentOk(segment: string): boolean {
  if (segment === "" || segment === "." || segment === "..") return false;
  return [...segment].every((c) => c !== "\\" && c.charCodeAt(0) > 0x1f && c !== "\x7f");
}

/**
 * `--github OWNER/REPO/REF/PATH` as the raw file URL
 * `https://raw.githubusercontent.com/OWNER/REPO/REF/PATH`. REF is one path
 * segment (a branch, tag or commit); a branch with `/` in its name needs --url.
 */
export function githubRawUrl(spec: string, flag = "--github"): string {
  const form = "OWNER/REPO/REF/PATH (e.g. octocat/hello-world/main/src/hello.py)";
  const parts = spec.split("/");
  if (parts.length < 4 || !parts.every(segmentOk)) invalid(flag, spec, form);
  const [owner, repo, ...rest] = parts as [string, string, ...string[]];
  if (!GITHUB_OWNER.test(owner)) invalid(flag, spec, `${form}: "${owner}" is not a GitHub owner`);
  if (!GITHUB_REPO.test(repo))
    invalid(flag, spec, `${form}: "${repo}" is not a GitHub repository name`);
  return `https://raw.githubusercontent.com/${[owner, repo, ...rest].map(encodeURIComponent).join("/")}`;
}

/**
 * `--gist GIST_ID/FILE` as `https://gist.githubusercontent.com/raw/GIST_ID/FILE`
 * (the latest revision of the file; GitHub answers this owner-less form), or
 * `--gist OWNER/GIST_ID/FILE` as the form GitHub's Raw button links to, without
 * the revision: `https://gist.githubusercontent.com/OWNER/GIST_ID/raw/FILE`.
 */
export function gistRawUrl(spec: string, flag = "--gist"): string {
  const form = "GIST_ID/FILE or OWNER/GIST_ID/FILE (e.g. aa5a315d61ae9438b18d/hello.py)";
  const parts = spec.split("/");
  if ((parts.length !== 2 && parts.length !== 3) || !parts.every(segmentOk))
    invalid(flag, spec, form);
  const [owner, id, file] =
    parts.length === 3
      ? (parts as [string, string, string])
      : [undefined, parts[0] as string, parts[1] as string];
  if (owner !== undefined && !GITHUB_OWNER.test(owner))
    invalid(flag, spec, `${form}: "${owner}" is not a GitHub owner`);
  if (!GIST_ID.test(id)) invalid(flag, spec, `${form}: "${id}" is not a gist id (hexadecimal)`);
  const encoded = encodeURIComponent(file);
  return owner === undefined
    ? `https://gist.githubusercontent.com/raw/${id}/${encoded}`
    : `https://gist.githubusercontent.com/${owner}/${id}/raw/${encoded}`;
}

/** The extension of a URL's last path segment, lower case (`.py`), or "" when it has none. */
export function urlExtension(url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return "";
  }
  const last = path.slice(path.lastIndexOf("/") + 1);
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch {
    // A malformed escape: read the segment as it is.
  }
  return extname(name).toLowerCase();
}
