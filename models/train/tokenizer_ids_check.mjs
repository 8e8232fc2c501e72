// Compare the JS tokenizer (@huggingface/tokenizers 0.2.0, as the runtime loads it) with the
// Python ids dumped by dump_tokenizer_ids.py, and check the decode round trip.
// Usage (from the repository root): node models/train/tokenizer_ids_check.mjs MODEL_DIR IDS_JSON
import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

const [dir, idsPath] = process.argv.slice(2);
const tj = JSON.parse(readFileSync(`${dir}/tokenizer.json`, "utf8"));
const tc = JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, "utf8"));
const tok = new Tokenizer(tj, tc);
const cases = JSON.parse(readFileSync(idsPath, "utf8")).cases;
let bad = 0, badRt = 0;
for (const c of cases) {
  const ids = tok.encode(c.text, { add_special_tokens: false }).ids;
  if (JSON.stringify(ids) !== JSON.stringify(c.ids)) {
    if (bad++ < 3) console.log("MISMATCH", JSON.stringify(c.text).slice(0, 200), "\n js", ids.slice(0, 40).join(","), "\n py", c.ids.slice(0, 40).join(","));
  }
  const back = tok.decode(ids, { skip_special_tokens: false });
  if (back !== c.text) {
    if (badRt++ < 3) console.log("ROUNDTRIP", JSON.stringify(c.text).slice(0, 200), "->", JSON.stringify(back).slice(0, 200));
  }
}
console.log(`${cases.length} cases, ${bad} id mismatches, ${badRt} round-trip failures`);
process.exit(bad || badRt ? 1 : 0);
