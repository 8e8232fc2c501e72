/** Browser loader: streams policy.wasm from a URL (served with application/wasm). */
import { PolicyCore } from "./core.ts";
import { ModelLoadError } from "../errors.ts";

export async function loadPolicy(url: string | URL): Promise<PolicyCore> {
  const response = await fetch(url);
  if (!response.ok) {
    throw new ModelLoadError(String(url), `cannot fetch the policy core: HTTP ${response.status}`);
  }
  return await PolicyCore.fromModule(await WebAssembly.compileStreaming(response));
}
