// Next-token log-probabilities from llama.cpp (node-llama-cpp's prebuilt CPU
// build), the independent reference forward of tests/llm/test_model_llamacpp.py.
// Usage: node llamacpp_logprobs.mjs NODE_MODULES MODEL.gguf TOKENS.json OUT.f32 [THREADS]
//   TOKENS.json: a JSON array of token ids, evaluated as one sequence (no BOS added);
//   OUT.f32: float32 little-endian [T, n_vocab], row t = log p(. | tokens[0..t]).
// Sampling is greedy (temperature 0), so the probabilities node-llama-cpp
// returns are the softmax of the raw logits over the whole vocabulary. KV cache
// in F32 and no flash attention, so the only differences left are llama.cpp's
// own arithmetic. Prints one JSON line {n_vocab, n_tokens, load_s, eval_s}.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [nodeModules, modelPath, tokensPath, outPath, threadsArg] = process.argv.slice(2);
if (!outPath) {
	console.error("usage: node llamacpp_logprobs.mjs NODE_MODULES MODEL.gguf TOKENS.json OUT.f32 [THREADS]");
	process.exit(2);
}
const { getLlama, LlamaLogLevel } = await import(
	pathToFileURL(path.join(nodeModules, "node-llama-cpp", "dist", "index.js")).href);
const threads = Number(threadsArg || 1);
const tokens = JSON.parse(fs.readFileSync(tokensPath, "utf8"));
const t0 = Date.now();
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({
	contextSize: Math.max(64, tokens.length + 8), batchSize: Math.max(64, tokens.length + 8),
	threads, flashAttention: false,
	experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
});
const seq = context.getSequence();
const t1 = Date.now();
const res = await seq.controlledEvaluate(tokens.map((t) => [t, { generateNext: { probabilities: true } }]));
const t2 = Date.now();
let V = 0;
for (const r of res) for (const id of r.next.probabilities.keys()) V = Math.max(V, id + 1);
const out = new Float32Array(tokens.length * V).fill(-Infinity);
res.forEach((r, t) => {
	for (const [id, p] of r.next.probabilities) out[t * V + id] = Math.log(p);
});
fs.writeFileSync(outPath, Buffer.from(out.buffer));
console.log(JSON.stringify({ n_vocab: V, n_tokens: tokens.length,
	load_s: (t1 - t0) / 1000, eval_s: (t2 - t1) / 1000 }));
await context.dispose();
await model.dispose();
await llama.dispose();
