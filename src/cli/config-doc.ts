/** Prints the configuration table for the README (`deno task config:doc`). */
import { configTable } from "../config.ts";

console.log(configTable());
