/**
 * int8 weights for a drafter, made at load time from its float32 ONNX file.
 *
 * A drafter pass at these sizes is bound by reading the weights (bench/results/runtime.md), and
 * a drafter's tokens are only proposals that the verifier checks, so a drafter may be quantized
 * without changing any output: only how many of its tokens are accepted can change. Every
 * MatMul whose right operand is a constant float32 matrix W [K, N] (or the transpose of one, as
 * a tied embedding's vocabulary projection is) becomes onnxruntime's com.microsoft
 * DynamicQuantizeMatMul over int8 W with one scale per column (max |w| / 127, symmetric); the
 * activations are quantized per pass by the operator. Other nodes (the embedding's Gather,
 * attention over the KV cache, norms) stay float32. The bundled files stay float32 (the
 * project's export format); this rewrite happens in memory.
 */

import {
  bytesField,
  decodeMessage,
  encodeMessage,
  fieldText,
  repeatedVarints,
  stringField,
  varintField,
  varintValue,
  type WireField,
} from "./protobuf-wire.ts";

// ONNX field numbers (onnx/onnx.proto).
const MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8;
const OPSET_DOMAIN = 1, OPSET_VERSION = 2;
const GRAPH_NODE = 1, GRAPH_INITIALIZER = 5, GRAPH_OUTPUT = 12;
const NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5, NODE_DOMAIN = 7;
const ATTR_NAME = 1, ATTR_GRAPH = 6, ATTR_INTS = 8, ATTR_GRAPHS = 11;
const VALUE_INFO_NAME = 1;
const TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_FLOAT_DATA = 4, TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9, TENSOR_DATA_LOCATION = 14;
const FLOAT = 1, INT8 = 3, EXTERNAL = 1;
const MS_DOMAIN = "com.microsoft";

export class QuantizeError extends Error {}

interface Node {
  fields: WireField[];
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
}

function parseNode(bytes: Uint8Array): Node {
  const fields = decodeMessage(bytes);
  const texts = (n: number) => fields.filter((f) => f.field === n).map(fieldText);
  return {
    fields,
    opType: texts(NODE_OP_TYPE)[0] ?? "",
    domain: texts(NODE_DOMAIN)[0] ?? "",
    inputs: texts(NODE_INPUT),
    outputs: texts(NODE_OUTPUT),
  };
}

interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** A 2-D float32 initializer's values, or null for any other tensor. */
function floatMatrix(fields: WireField[]): Matrix | null {
  const dims = repeatedVarints(fields, TENSOR_DIMS);
  const type = fields.find((f) => f.field === TENSOR_DATA_TYPE);
  if (dims.length !== 2 || !type || varintValue(type.bytes) !== FLOAT) return null;
  const raw = fields.find((f) => f.field === TENSOR_RAW_DATA);
  const packed = fields.find((f) => f.field === TENSOR_FLOAT_DATA);
  const src = raw ?? packed;
  if (!src || src.bytes.length !== dims[0] * dims[1] * 4) return null;
  // copy: the payload need not be 4-byte aligned in the file; float32 little-endian (ONNX)
  const data = new Float32Array(dims[0] * dims[1]);
  new Uint8Array(data.buffer).set(src.bytes);
  return { rows: dims[0], cols: dims[1], data };
}

/** The permutation of a Transpose node (absent: reversed axes). */
function perm(node: Node): number[] | null {
  for (const f of node.fields) {
    if (f.field !== NODE_ATTRIBUTE) continue;
    const attr = decodeMessage(f.bytes);
    const name = attr.find((a) => a.field === ATTR_NAME);
    if (name && fieldText(name) === "perm") return repeatedVarints(attr, ATTR_INTS);
  }
  return null;
}

/** Per-column symmetric int8 of W [K, N] (given row-major, or as its transpose [N, K]). */
function quantizeColumns(m: Matrix, transposed: boolean) {
  const K = transposed ? m.cols : m.rows, N = transposed ? m.rows : m.cols;
  const at = transposed
    ? (k: number, n: number) => m.data[n * m.cols + k]
    : (k: number, n: number) => m.data[k * m.cols + n];
  const scales = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let max = 0;
    for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(at(k, n)));
    scales[n] = max > 0 ? max / 127 : 1;
  }
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) q[k * N + n] = Math.round(at(k, n) / scales[n]);
  }
  return { K, N, q, scales };
}

function tensor(name: string, dims: number[], type: number, raw: Uint8Array): Uint8Array {
  return encodeMessage([
    ...dims.map((d) => varintField(TENSOR_DIMS, d)),
    varintField(TENSOR_DATA_TYPE, type),
    stringField(TENSOR_NAME, name),
    bytesField(TENSOR_RAW_DATA, raw),
  ]);
}

export interface QuantizeResult {
  model: Uint8Array;
  /** MatMul nodes rewritten. */
  matmuls: number;
}

/**
 * Rewrites a float32 ONNX model (one file, weights inside) so that its constant-weight MatMuls
 * run in int8. Throws QuantizeError for a file that is not such a model.
 */
export function quantizeMatMulWeights(onnx: Uint8Array): QuantizeResult {
  let model: WireField[];
  try {
    model = decodeMessage(onnx);
  } catch (e) {
    throw new QuantizeError(`not an ONNX model: ${(e as Error).message}`);
  }
  const graphAt = model.findIndex((f) => f.field === MODEL_GRAPH);
  if (graphAt < 0) throw new QuantizeError("not an ONNX model: it has no graph");
  const graph = decodeMessage(model[graphAt].bytes);

  const initializers = new Map<string, WireField[]>();
  /** Each initializer field's tensor name, for the rewrite's pruning below. */
  const initializerName = new Map<WireField, string>();
  for (const f of graph) {
    if (f.field !== GRAPH_INITIALIZER) continue;
    const t = decodeMessage(f.bytes);
    const loc = t.find((x) => x.field === TENSOR_DATA_LOCATION);
    if (loc && varintValue(loc.bytes) === EXTERNAL) {
      throw new QuantizeError(
        "the model keeps its weights in external data files; quantization needs them inside the .onnx file",
      );
    }
    const name = t.find((x) => x.field === TENSOR_NAME);
    if (!name) continue;
    initializers.set(fieldText(name), t);
    initializerName.set(f, fieldText(name));
  }
  const nodes = graph.filter((f) => f.field === GRAPH_NODE).map((f) => parseNode(f.bytes));
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);

  const added: Uint8Array[] = [];
  let matmuls = 0;
  /** What the rewritten MatMuls read, to drop if nothing else does. */
  const orphanedWeights = new Set<string>();
  const orphanedTransposes = new Set<Node>();
  /** The constant float32 matrix `b` reads: an initializer, or a 2-D transpose of one. */
  const constantWeight = (b: string) => {
    const init = initializers.get(b);
    if (init) {
      const w = floatMatrix(init);
      return w && { w, transposed: false, initializer: b, transpose: null };
    }
    const t = producer.get(b);
    if (!t || t.opType !== "Transpose" || t.domain !== "") return null;
    const p = perm(t), src = initializers.get(t.inputs[0]);
    if (!src || !(p === null || p.length === 0 || (p[0] === 1 && p[1] === 0))) return null;
    const w = floatMatrix(src);
    return w && { w, transposed: true, initializer: t.inputs[0], transpose: t };
  };
  for (const [i, n] of nodes.entries()) {
    if (n.opType !== "MatMul" || n.domain !== "" || n.inputs.length !== 2) continue;
    const weight = constantWeight(n.inputs[1]);
    if (!weight) continue;
    const { w, transposed } = weight;
    orphanedWeights.add(weight.initializer);
    if (weight.transpose) orphanedTransposes.add(weight.transpose);
    const { K, N, q, scales } = quantizeColumns(w, transposed);
    const base = `${n.outputs[0]}_int8_${i}`;
    added.push(
      tensor(`${base}_w`, [K, N], INT8, new Uint8Array(q.buffer)),
      tensor(`${base}_scale`, [N], FLOAT, new Uint8Array(scales.buffer)),
    );
    n.fields = [
      stringField(NODE_INPUT, n.inputs[0]),
      stringField(NODE_INPUT, `${base}_w`),
      stringField(NODE_INPUT, `${base}_scale`),
      ...n.fields.filter((f) => ![NODE_INPUT, NODE_OP_TYPE, NODE_DOMAIN].includes(f.field)),
      stringField(NODE_OP_TYPE, "DynamicQuantizeMatMul"),
      stringField(NODE_DOMAIN, MS_DOMAIN),
    ];
    n.inputs = [n.inputs[0], `${base}_w`, `${base}_scale`]; // read by the pruning below
    matmuls++;
  }
  if (matmuls === 0) {
    throw new QuantizeError("the model has no MatMul with a constant float32 weight matrix");
  }

  // Drop what only the rewritten MatMuls used (their float weights, a head's Transpose), so the
  // session does not hold both copies. Names a subgraph (If, Loop) may use are not visible
  // here, so a graph with subgraphs keeps everything (onnxruntime then drops unused weights).
  const graphOutputs = new Set(
    graph.filter((f) => f.field === GRAPH_OUTPUT).map((f) =>
      fieldText(decodeMessage(f.bytes).find((x) => x.field === VALUE_INFO_NAME)!)
    ),
  );
  const hasSubgraphs = nodes.some((n) =>
    n.fields.some((f) =>
      f.field === NODE_ATTRIBUTE &&
      decodeMessage(f.bytes).some((a) => a.field === ATTR_GRAPH || a.field === ATTR_GRAPHS)
    )
  );
  const removed = new Set<Node>();
  if (!hasSubgraphs) {
    const inputs = new Set(nodes.flatMap((n) => n.inputs));
    for (const t of orphanedTransposes) {
      if (!t.outputs.some((o) => inputs.has(o) || graphOutputs.has(o))) removed.add(t);
    }
  }
  const used = new Set(nodes.filter((n) => !removed.has(n)).flatMap((n) => n.inputs));
  let nodeIndex = 0;
  const newGraph: WireField[] = [];
  for (const f of graph) {
    if (f.field === GRAPH_NODE) {
      const n = nodes[nodeIndex++];
      if (!removed.has(n)) newGraph.push(bytesField(GRAPH_NODE, encodeMessage(n.fields)));
    } else if (f.field === GRAPH_INITIALIZER) {
      const name = initializerName.get(f);
      const orphan = name !== undefined && orphanedWeights.has(name) && !used.has(name);
      if (hasSubgraphs || !orphan) newGraph.push(f);
    } else newGraph.push(f);
  }
  for (const t of added) newGraph.push(bytesField(GRAPH_INITIALIZER, t));

  const out = model.map((f, i) =>
    i === graphAt ? bytesField(MODEL_GRAPH, encodeMessage(newGraph)) : f
  );
  const hasMs = model.some((f) =>
    f.field === MODEL_OPSET_IMPORT &&
    decodeMessage(f.bytes).some((x) => x.field === OPSET_DOMAIN && fieldText(x) === MS_DOMAIN)
  );
  if (!hasMs) {
    out.push(bytesField(
      MODEL_OPSET_IMPORT,
      encodeMessage([stringField(OPSET_DOMAIN, MS_DOMAIN), varintField(OPSET_VERSION, 1)]),
    ));
  }
  return { model: encodeMessage(out), matmuls };
}
