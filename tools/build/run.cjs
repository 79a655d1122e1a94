/**
 * `node tools/build/run.cjs <entry.ts> [args...]`: runs one of the repository's TypeScript programs (main.ts,
 * tools/post-apply/main.ts) as precompiled JavaScript, building it first when it is missing or stale.
 *
 * Plain CommonJS on purpose: it must start without a compiler. Compiling TypeScript on every call (tsx) was
 * most of a synth; this runs a bundle made by esbuild into .build/ (git-ignored) and a V8 code cache of it.
 *
 * Never stale: the build records the modification time and size of every file esbuild read (our sources, the
 * bundled node_modules files, tsconfig.json, this launcher); a run stats exactly those and rebuilds on any
 * difference, or when one is gone. A new file only matters once an input imports it, and that input changed.
 * Cheap: about one stat per input, no hashing and no esbuild unless something changed.
 */
"use strict";
const {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} = require("node:fs");
const Module = require("node:module");
const { dirname, join, relative, resolve, sep } = require("node:path");
const vm = require("node:vm");

const ROOT = resolve(__dirname, "..", "..");
const OUT_DIR = join(ROOT, ".build");
/**
 * Packages left to load from node_modules at run time: they read files next to their own code (libpg-query's
 * WebAssembly) or are optional native add-ons that are not installed (pg-native).
 */
const EXTERNAL = ["libpg-query", "pg-native"];

const [entryArg, ...args] = process.argv.slice(2);
if (!entryArg) {
  process.stderr.write("usage: node tools/build/run.cjs <entry.ts> [args...]\n");
  process.exit(1);
}
const entry = relative(ROOT, resolve(entryArg)).split(sep).join("/");
if (entry.startsWith("..") || !entry.endsWith(".ts")) {
  process.stderr.write(`tools/build/run.cjs: expected a .ts file of this repository, found "${entryArg}"\n`);
  process.exit(1);
}
const bundle = join(OUT_DIR, entry.replace(/\.ts$/, ".js"));
const stampFile = `${bundle}.inputs.json`;
const cacheFile = `${bundle}.v8cache`;

if (!fresh()) build();
run();

/** True when the bundle was built from exactly the files that are there now. */
function fresh() {
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(stampFile, "utf8"));
  } catch {
    return false;
  }
  for (const [file, mtimeMs, size] of inputs) {
    // Not path.join: normalizing hundreds of paths was most of the cost of this check.
    const stat = statSync(`${ROOT}/${file}`, { throwIfNoEntry: false });
    if (!stat || stat.mtimeMs !== mtimeMs || stat.size !== size) return false;
  }
  return true;
}

function build() {
  const esbuild = require("esbuild");
  mkdirSync(dirname(bundle), { recursive: true });
  rmSync(stampFile, { force: true });
  const started = Date.now();
  // A private temporary name, renamed into place: a concurrent run (parallel deploys) never reads half a file.
  const temporary = `${bundle}.${process.pid}.tmp`;
  const result = esbuild.buildSync({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    outfile: temporary,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: `node${process.versions.node.split(".")[0]}`,
    external: EXTERNAL,
    // import() as require(): the bundle runs as a vm.Script (for its code cache), which has no ES module loader.
    supported: { "dynamic-import": false },
    metafile: true,
    logLevel: "error",
  });
  const files = [
    ...Object.keys(result.metafile.inputs),
    "tsconfig.json",
    relative(ROOT, __filename).split(sep).join("/"),
  ];
  const inputs = files.map((file) => {
    const stat = statSync(join(ROOT, file));
    return [file, stat.mtimeMs, stat.size];
  });
  renameSync(temporary, bundle);
  // A file saved while esbuild ran may be in the bundle in its older version: then record nothing, so that
  // the next run builds again.
  if (inputs.every(([, mtimeMs]) => mtimeMs < started)) writeAtomically(stampFile, JSON.stringify(inputs));
}

/**
 * Runs the bundle as the main module, through a V8 code cache: with it, compiling the bundle costs a few
 * milliseconds instead of a fifth of a synth. The cache is made after the first run (so it holds the functions
 * that run used) and again whenever it does not fit. V8 itself checks only the source's length, so the cache
 * starts with the identity (inode, mtime, size) of the bundle file it was made from.
 */
function run() {
  const fd = openSync(bundle, "r");
  const { ino, mtimeMs, size } = fstatSync(fd);
  const source = readFileSync(fd, "utf8");
  closeSync(fd);
  const identity = Buffer.from(`${ino}:${mtimeMs}:${size}\n`);
  let cachedData;
  try {
    const cache = readFileSync(cacheFile);
    if (cache.subarray(0, identity.length).equals(identity)) cachedData = cache.subarray(identity.length);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const main = new Module(bundle, null);
  main.filename = bundle;
  main.paths = Module._nodeModulePaths(dirname(bundle));
  process.argv = [process.argv[0], bundle, ...args];
  if (!cachedData || script.cachedDataRejected) {
    process.once("beforeExit", () => writeAtomically(cacheFile, Buffer.concat([identity, script.createCachedData()])));
  }
  script
    .runInThisContext()
    .call(main.exports, main.exports, Module.createRequire(bundle), main, bundle, dirname(bundle));
}

function writeAtomically(file, data) {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, data);
  renameSync(temporary, file);
}
