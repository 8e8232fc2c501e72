/**
 * Writes docs/configuration.md, the table of every configuration key (`deno task config:doc`);
 * with `--print` it prints the page instead.
 */
import { CONFIG_FILE_ENV, configTable } from "../config.ts";

const page = `# Configuration

Every setting is an environment variable, or a key of the JSON file named by \`${CONFIG_FILE_ENV}\`
(the environment wins). An invalid value stops the server at start with a message naming the
variable and the accepted values. This page is generated from \`src/config.ts\`
(\`deno task config:doc\`).

${configTable()}
`;

if (Deno.args.includes("--print")) {
  console.log(page);
} else {
  const path = new URL("../../docs/configuration.md", import.meta.url);
  const tmp = new URL("../../docs/configuration.md.tmp", import.meta.url);
  await Deno.writeTextFile(tmp, page);
  await Deno.rename(tmp, path);
  console.error(`wrote ${decodeURIComponent(path.pathname.split("/").slice(-2).join("/"))}`);
}
