// Reference tokenization for tests/llm/test_tokenizer.py and test_bpe_train.py:
// @huggingface/tokenizers (tokenizers.js) encodes and decodes a list of strings
// with one tokenizer.json / tokenizer_config.json pair, in one node process.
// Usage: node tok_ref.mjs NODE_MODULES TOKENIZER_JSON TOKENIZER_CONFIG_JSON STRINGS_JSON
//   STRINGS_JSON: a JSON list of strings.
// Prints one JSON object: {"ids": [[...]], "ids_plain": [[...]], "dec": [...], "dec_skip": [...],
//   "dec_plain": [...]}
//   ids: encode(s) (post-processor applied), ids_plain: add_special_tokens false,
//   dec / dec_skip: decode(ids) without / with skip_special_tokens, dec_plain: decode(ids_plain)
//   (null when the ids are empty:
//   tokenizers.js refuses to decode an empty list).
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [nm, tjPath, tcPath, stringsPath] = process.argv.slice(2);
const mod = await import(pathToFileURL(path.join(nm, "@huggingface/tokenizers/dist/tokenizers.mjs")).href);
const tok = new mod.Tokenizer(JSON.parse(fs.readFileSync(tjPath, "utf8")), JSON.parse(fs.readFileSync(tcPath, "utf8")));
const strings = JSON.parse(fs.readFileSync(stringsPath, "utf8"));
const out = { ids: [], ids_plain: [], dec: [], dec_skip: [], dec_plain: [] };
for (const s of strings) {
  const ids = tok.encode(s).ids;
  out.ids.push(ids);
  const plain = tok.encode(s, { add_special_tokens: false }).ids;
  out.ids_plain.push(plain);
  out.dec_plain.push(plain.length ? tok.decode(plain) : null);
  out.dec.push(ids.length ? tok.decode(ids) : null);
  out.dec_skip.push(ids.length ? tok.decode(ids, { skip_special_tokens: true }) : null);
}
process.stdout.write(JSON.stringify(out));
