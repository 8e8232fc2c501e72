/** Node loader: reads build/policy.wasm with node:fs. */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PolicyCore } from "./core.ts";

/** Loads the policy core from a file path (default: the project's build/policy.wasm). */
export async function loadPolicy(
  path = fileURLToPath(new URL("../../build/policy.wasm", import.meta.url)),
): Promise<PolicyCore> {
  return await PolicyCore.fromBytes(await readFile(path));
}
