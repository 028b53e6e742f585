// llama.cpp side of bench/llm/throughput.py: prefill and decode speed of a GGUF
// with node-llama-cpp's prebuilt CPU build.
// Usage: node llamacpp_throughput.mjs NODE_MODULES MODEL.gguf PROMPT_TOKENS DECODE_TOKENS THREADS
// Prefill: one controlledEvaluate of PROMPT_TOKENS fixed token ids (batch 1);
// decode: DECODE_TOKENS single-token evaluations (batch 1, KV cache, greedy),
// each fed the token the previous one produced. Prints one JSON line
// {load_s, prefill_s, prefill_tok_s, decode_s, decode_tok_s}.
import path from "node:path";
import { pathToFileURL } from "node:url";

const [nodeModules, modelPath, promptArg, decodeArg, threadsArg] = process.argv.slice(2);
const P = Number(promptArg), N = Number(decodeArg), threads = Number(threadsArg);
const { getLlama, LlamaLogLevel } = await import(
	pathToFileURL(path.join(nodeModules, "node-llama-cpp", "dist", "index.js")).href);
const t0 = performance.now();
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({ contextSize: P + N + 16, batchSize: P, threads });
const seq = context.getSequence();
const prompt = Array.from({ length: P }, (_, i) => (i * 7919 + 13) % 32000);
const t1 = performance.now();
const pre = await seq.controlledEvaluate(prompt.map((t, i) => i === P - 1
	? [t, { generateNext: { token: true } }] : t));
const t2 = performance.now();
let tok = pre[P - 1].next.token;
for (let i = 0; i < N; i++) {
	const r = await seq.controlledEvaluate([[tok, { generateNext: { token: true } }]]);
	tok = r[0].next.token;
}
const t3 = performance.now();
console.log(JSON.stringify({
	load_s: (t1 - t0) / 1000, prefill_s: (t2 - t1) / 1000, prefill_tok_s: P / ((t2 - t1) / 1000),
	decode_s: (t3 - t2) / 1000, decode_tok_s: N / ((t3 - t2) / 1000),
}));
await context.dispose();
await model.dispose();
await llama.dispose();
