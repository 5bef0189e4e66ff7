import type { RuntimeAdapter } from "./adapter.js";

export const bash: RuntimeAdapter = {
  name: "bash",
  defaultExtension: ".sh",
  extensions: [".sh", ".bash"],
  command: (path) => ["bash", path],
  env: {},
  // No installer at run time: Debian packages are baked into the image, from Debian's archive.
  bake: {
    script: [
      "export DEBIAN_FRONTEND=noninteractive",
      "apt-get update",
      'apt-get install -y --no-install-recommends -- "$@"',
      "apt-get clean",
      "rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log",
    ],
    failureLine: (lines) => lines.findLast((line) => /^E: /.test(line)),
  },
  image: { versionCommand: ["bash", "--version"] },
};
