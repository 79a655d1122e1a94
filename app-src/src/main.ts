/** The app's entry point (app.yaml: `node dist/main.js` after `npm run build`). */
import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { errorFields, jsonLogger } from "./log.js";

const logger = jsonLogger();

try {
  const app = await startApp({ config: loadConfig(process.env), logger });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      logger.log("info", "shutting down", { signal });
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.log("error", "shutdown failed", errorFields(error));
          process.exit(1);
        },
      );
    });
  }
} catch (error) {
  logger.log(
    "error",
    "app failed to start",
    error instanceof ConfigError ? { error: error.message, problems: error.problems } : errorFields(error),
  );
  process.exit(1);
}
