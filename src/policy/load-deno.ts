/** Deno loader: reads build/policy.wasm (built by `deno task build:wasm`). */
import { PolicyCore } from "./core.ts";
import { ModelLoadError } from "../errors.ts";

export const POLICY_WASM_URL = new URL("../../build/policy.wasm", import.meta.url);

/** Loads the policy core from `url` (default: the project's build/policy.wasm). */
export async function loadPolicy(url: URL = POLICY_WASM_URL): Promise<PolicyCore> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(url);
  } catch (e) {
    throw new ModelLoadError(
      url.pathname,
      `cannot read the policy core (${
        (e as Error).message
      }); build it with \`deno task build:wasm\``,
    );
  }
  return await PolicyCore.fromBytes(bytes as Uint8Array<ArrayBuffer>);
}
