/**
 * Cloudflare Workers loader. workerd refuses to compile wasm bytes at run time, so the worker
 * entry imports build/policy.wasm as a module (`import policyWasm from "../build/policy.wasm"`,
 * a CompiledWasm rule in wrangler.toml) and hands it here.
 */
import { PolicyCore } from "./core.ts";

export function loadPolicy(module: WebAssembly.Module): Promise<PolicyCore> {
  return PolicyCore.fromModule(module);
}
