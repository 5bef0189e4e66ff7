// isol8 prestart bootstrap for node (see 'P' in sandbox/supervisor.c).
//
// The supervisor starts `node /usr/local/lib/isol8/node.cjs` as the sandbox
// user, with the runtime's fixed environment only, while the sandbox is
// idle. Node's start-up (the slow part) happens then; this file then blocks
// reading fd 3 until a run arrives: NUL-terminated entries "a<arg>",
// "e<NAME=value>" and "w<dir>", the argv, environment and working directory
// of `node <file> <args...>`. It becomes that program: process.env is
// replaced by the request's, process.argv is what `node <file>` gives, and
// the file runs through Node's own entry-point code (Module.runMain, what
// `node <file>` calls): ES module or CommonJS as Node decides for the file,
// as the main module, with Node's handling of uncaught errors and exit codes.
"use strict";
const { closeSync, readFileSync, writeSync } = require("node:fs");
const { resolve } = require("node:path");
const Module = require("node:module");
// Loaded ahead, as nearly every program needs it (process.stdout, stdin and
// stderr are net.Sockets on the pipes the sandbox gives); loading a built-in
// module only evaluates Node's own code, nothing a program can tell apart.
require("node:net");

const request = readFileSync(3, "utf8"); // blocks until the supervisor closes its end
closeSync(3);
const argv = [];
const env = [];
let workdir = "/sandbox";
for (const entry of request.split("\0").slice(0, -1)) {
  const value = entry.slice(1);
  if (entry[0] === "a") argv.push(value);
  else if (entry[0] === "e") env.push(value);
  else if (entry[0] === "w") workdir = value;
}

// The environment becomes the request's (process.env writes through to the
// C environment child processes inherit); the first of duplicate names wins.
for (const name of Object.keys(process.env)) delete process.env[name];
for (const entry of env) {
  const eq = entry.indexOf("=");
  const name = entry.slice(0, eq);
  if (eq > 0 && !(name in process.env)) process.env[name] = entry.slice(eq + 1);
}

try {
  process.chdir(workdir);
} catch (error) {
  writeSync(2, `isol8: cannot enter working directory ${workdir}: ${error.message}\n`);
  process.exit(127);
}

// `node <file> args...` has process.argv [execPath, <file made absolute>, args...].
process.argv.splice(1, process.argv.length - 1, resolve(argv[1]), ...argv.slice(2));
// No trace of this file: an ES module program has no main module at all.
delete require.cache[__filename];
delete process.mainModule;
Module.runMain();
