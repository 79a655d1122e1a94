/**
 * `npm run bench:post-apply`: what a post-apply run costs; what it measures, its target and its exit codes are
 * its USAGE below.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import {
  startPostApplyWorld,
  APP_ROLE,
  DATABASE_TOKEN,
  DEPLOYER,
  INSTANCE,
  READER_ROLE,
  WORKSPACE_TOKEN,
} from "../lib/local/post-apply-world";
import { runCommand } from "../lib/cli";
import { connect } from "../lib/lakebase/session";
import { oneLine } from "../lib/one-line";
import { UserError } from "../lib/user-error";
import { Workspace } from "../lib/workspace";
import type { PostApplyInputs } from "../lib/post-apply-inputs";
import { postApply } from "../post-apply/post-apply";
import { parseRuns } from "./runs";
import { printTable } from "./table";

const TARGET_OVERHEAD_MS = 100;

const USAGE = `usage: npm run bench:post-apply [-- --runs N]
  What a post-apply run costs, against a local PostgreSQL and a local fake of the Databricks API that this
  script starts (the same ones the integration tests use).

    connect     the baseline: open and close the deployer's session, as the runner does
    no-op       a whole run (REST calls, connect, lock, history, access check) with nothing to do
    100 new     a run applying 100 small generated migrations to a fresh database
    process     the no-op run as Terraform starts it: \`node tools/build/run.cjs tools/post-apply/main.ts apply\`

  Runs in-process unless noted, alternating connect and no-op, --runs times each (default 20; 3 for the
  slower cases), and reports medians, the no-op's SQL round trips and REST calls (counted by wrapping
  pg.Client#query and by the fake's request log), and the no-op's overhead beyond connecting.
  Target: the no-op run adds under ${TARGET_OVERHEAD_MS} ms to connecting.
  Exit codes: 0 target met, 2 missed, 1 a mistake to fix (one line), 70 a bug (stack trace).`;

async function main(runs: number): Promise<number> {
  const world = await startPostApplyWorld();
  const work = mkdtempSync(join(tmpdir(), "bench-post-apply-"));
  try {
    // The SDK reads credentials from the environment, as in a real run.
    Object.assign(process.env, { DATABRICKS_HOST: world.fake.host, DATABRICKS_TOKEN: WORKSPACE_TOKEN });
    const workspace = new Workspace();
    const generated = generateMigrations(join(work, "generated"), 100);
    const inputs = (database: string, migrationsDir: string): PostApplyInputs => ({
      instance: INSTANCE,
      database,
      schema: "app",
      appRole: APP_ROLE,
      appAccess: "readWrite",
      readOnlyRoles: [READER_ROLE],
      configFile: "environments/bench.yaml",
      migrationsDir,
      instanceTimeoutSeconds: 30,
      lockTimeoutSeconds: 30,
      statementBounds: { lockTimeoutSeconds: 30, timeoutSeconds: 60 },
      dryRun: false,
      connection: { port: world.postgres.port, tls: false },
    });
    const silent = () => {};

    await world.createDatabase("bench_noop");
    const noopInputs = inputs("bench_noop", generated);
    await postApply(noopInputs, workspace, silent); // applies everything once, and warms up
    const target = {
      host: world.postgres.host,
      database: "bench_noop",
      user: DEPLOYER,
      password: DATABASE_TOKEN,
      connection: noopInputs.connection,
    };

    const connectMs: number[] = [];
    const noopMs: number[] = [];
    let roundTrips = 0;
    let restCalls = 0;
    const countQueries = countingQueries();
    for (let i = 0; i < runs; i++) {
      connectMs.push(await time(async () => (await connect(target)).end()));
      const requestsBefore = world.fake.requests.length;
      const queriesBefore = countQueries();
      noopMs.push(await time(async () => assertNothingChanged(await postApply(noopInputs, workspace, silent))));
      roundTrips = countQueries() - queriesBefore;
      restCalls = world.fake.requests.length - requestsBefore;
    }

    const slowRuns = Math.min(runs, 3);
    const fromScratchMs: number[] = [];
    for (let i = 0; i < slowRuns; i++) {
      await world.createDatabase(`bench_scratch_${i}`);
      fromScratchMs.push(await time(() => postApply(inputs(`bench_scratch_${i}`, generated), workspace, silent)));
    }
    const processMs: number[] = [];
    for (let i = 0; i < slowRuns; i++) {
      processMs.push(
        await time(async () => {
          const result = await world.run(["apply"], world.applyEnv("bench_noop", generated));
          if (result.code !== 0) throw new UserError(`the runner failed: ${oneLine(result.stderr)}`);
        }),
      );
    }

    const connectMedian = median(connectMs);
    const noopMedian = median(noopMs);
    const overhead = noopMedian - connectMedian;
    const ok = overhead < TARGET_OVERHEAD_MS;
    const { rows } = await world.postgres.query<{ version: string }>(
      "SELECT current_setting('server_version') AS version",
    );
    console.log(
      `post-apply benchmark (medians; PostgreSQL ${rows[0].version} on localhost; ${process.platform} ${process.arch}, node ${process.version})`,
    );
    printTable(
      [
        ["measurement", "median", "runs", "notes"],
        ["connect (baseline)", ms(connectMs), String(connectMs.length), "open + close the deployer's session"],
        ["no-op run", ms(noopMs), String(noopMs.length), `${roundTrips} SQL round trips, ${restCalls} REST calls`],
        [
          "no-op overhead",
          `${overhead.toFixed(1)} ms`,
          "",
          `no-op / connect = ${(noopMedian / connectMedian).toFixed(1)}x; target < ${TARGET_OVERHEAD_MS} ms: ${ok ? "met" : "MISSED"}`,
        ],
        [
          "100 migrations, fresh db",
          ms(fromScratchMs),
          String(fromScratchMs.length),
          `${(median(fromScratchMs) / 100).toFixed(1)} ms per migration (SQL parser already loaded)`,
        ],
        [
          "no-op, whole process",
          ms(processMs),
          String(processMs.length),
          "node tools/build/run.cjs tools/post-apply/main.ts apply",
        ],
      ],
      [1],
    );
    return ok ? 0 : 2;
  } finally {
    await world.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** 100 small migrations, each a table with a sequence, an index and a row: the shape of real ones. */
function generateMigrations(dir: string, count: number): string {
  mkdirSync(dir);
  for (let n = 1; n <= count; n++) {
    const name = `${String(n).padStart(4, "0")}_create_table_${n}.sql`;
    writeFileSync(
      join(dir, name),
      `CREATE TABLE table_${n} (id bigserial PRIMARY KEY, note text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\n` +
        `CREATE INDEX table_${n}_created_at_idx ON table_${n} (created_at);\n` +
        `INSERT INTO table_${n} (note) VALUES ('row ${n}');\n`,
    );
  }
  return dir;
}

/** Counts every pg query from now on (each is one round trip: a simple or a pipelined extended query). */
function countingQueries(): () => number {
  let count = 0;
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    count++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return () => count;
}

function assertNothingChanged({ changed }: { changed: boolean }): void {
  if (changed) throw new Error("the no-op run changed something");
}

async function time(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function ms(samples: readonly number[]): string {
  return `${median(samples).toFixed(1)} ms`;
}

runCommand({ name: "bench:post-apply", usage: USAGE, run: ({ argv }) => main(parseRuns(argv, 20)) });
