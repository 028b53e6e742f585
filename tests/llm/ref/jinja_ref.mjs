// Reference chat-template rendering for tests/llm/test_chat.py and
// test_bpe_train.py: @huggingface/jinja renders each case in one node process.
// Usage: node jinja_ref.mjs NODE_MODULES CASES_JSON
//   CASES_JSON: a JSON list of {"template": str, "context": {...}}; the context holds
//   messages, add_generation_prompt, the special tokens and any extra variables.
// Prints a JSON list: the rendered string, or {"error": message}.
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [nm, casesPath] = process.argv.slice(2);
const { Template } = await import(pathToFileURL(path.join(nm, "@huggingface/jinja/dist/index.js")).href);
const cases = JSON.parse(fs.readFileSync(casesPath, "utf8"));
const compiled = new Map();
const out = [];
for (const c of cases) {
  try {
    if (!compiled.has(c.template)) compiled.set(c.template, new Template(c.template));
    out.push(compiled.get(c.template).render(c.context));
  } catch (e) {
    out.push({ error: String(e && e.message ? e.message : e) });
  }
}
process.stdout.write(JSON.stringify(out));
