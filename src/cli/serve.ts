/**
 * `deno task serve`: loads the configuration and the policy core, then serves the app with
 * Deno.serve on HOST:PORT. Exits with code 2 on invalid configuration, 1 on other start-up
 * failures, and shuts down cleanly on SIGINT / SIGTERM.
 */
import { loadConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { Logger } from "../log.ts";
import { loadPolicy } from "../policy/load-deno.ts";
import { createApp } from "../server/app.ts";

let config;
try {
  config = loadConfig();
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  Deno.exit(e instanceof ConfigError ? 2 : 1);
}
const log = new Logger(config.logLevel);
try {
  const policy = await loadPolicy();
  const app = createApp({ config, log, policy });
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ hostname, port }) => log.info("listening", { url: `http://${hostname}:${port}` }),
  }, app.fetch);
  const stop = () => {
    log.info("shutting down");
    server.shutdown();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
} catch (e) {
  log.error("start-up failed", { err: e });
  Deno.exit(1);
}
