/**
 * Question sets for tests and benchmarks.
 *
 * `ownQuestions()` is the project's own set of grade-school maths word problems (written for
 * this project from templates, not copied from GSM8K), used when no data file is given.
 * `readQuestions()` reads the "question" field of a JSONL file such as GSM8K's test split, or
 * the "prompt" field of one such as HumanEval's.
 */

const NAMES = ["Maya", "Leo", "Priya", "Tom", "Ana", "Kofi", "Lena", "Omar", "Zoe", "Ravi"];
const ITEMS = ["apples", "stickers", "marbles", "books", "cookies", "pencils", "shells", "cards"];

type Template = (n: string, m: string, item: string, a: number, b: number, c: number) => string;

const TEMPLATES: Template[] = [
  (n, _m, item, a, b, c) =>
    `${n} has ${a} ${item}. ${n} buys ${b} more and then gives away ${c}. How many ${item} does ${n} have now?`,
  (n, m, item, a, b) =>
    `${n} has ${a} ${item} and ${m} has ${b} times as many. How many ${item} do they have together?`,
  (n, _m, item, a, b) =>
    `A box holds ${b} ${item}. ${n} fills ${a} boxes. How many ${item} are in the boxes altogether?`,
  (n, _m, _item, a, b, c) =>
    `${n} earns $${a} an hour and works ${b} hours a day for ${c} days. How much money does ${n} earn?`,
  (n, m, item, a, b) =>
    `${n} shares ${
      a * b
    } ${item} equally among ${b} friends, including ${m}. How many ${item} does each friend get?`,
  (n, _m, _item, a, b, c) =>
    `A shirt costs $${a} and a pair of shoes costs $${b} more than the shirt. ${n} buys ${c} shirts and one pair of shoes. How much does ${n} spend?`,
  (n, _m, _item, a, b, c) =>
    `${n} runs ${a} miles on Monday, ${b} miles on Tuesday and twice as far on Wednesday as on Monday. ${n} rests ${c} days. How many miles does ${n} run in total?`,
  (n, m, item, a, b, c) =>
    `${n} collects ${a} ${item} each week. After ${b} weeks ${n} gives ${c} ${item} to ${m}. How many ${item} does ${n} keep?`,
  (_n, _m, _item, a, b, c) =>
    `A farm has ${a} cows and ${b} chickens. Each cow has 4 legs and each chicken has 2 legs. The farmer buys ${c} more cows. How many legs are there on the farm now?`,
  (n, _m, _item, a, b) =>
    `A train travels ${a} miles in ${b} hours. At the same speed, how far does it travel in ${
      b + 2
    } hours? ${n} wants to know.`,
];

/** 50 deterministic word problems (the same on every machine). */
export function ownQuestions(count = 50): string[] {
  let s = 12345;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = TEMPLATES[i % TEMPLATES.length];
    const n = NAMES[rnd(NAMES.length)];
    let m = NAMES[rnd(NAMES.length)];
    if (m === n) m = NAMES[(NAMES.indexOf(n) + 1) % NAMES.length];
    out.push(t(n, m, ITEMS[rnd(ITEMS.length)], 2 + rnd(30), 2 + rnd(9), 1 + rnd(5)));
  }
  return out;
}

/**
 * Prompts outside the bundled models' training domain (grade-school maths), written for this
 * project: everyday requests, writing, explanations, lists and code. A drafter trained on maths
 * answers has little to offer here; the benchmark shows what drafting costs when it fails.
 */
const GENERAL = [
  "Write a short poem about the sea at night.",
  "Explain why the sky is blue to a ten-year-old.",
  "List five things to pack for a weekend camping trip.",
  "Write a friendly email inviting a colleague to lunch on Friday.",
  "What is the difference between a virus and a bacterium?",
  "Give three tips for learning a new language.",
  "Describe a busy market in a few sentences.",
  "Write a Python function that reverses a string.",
  "Summarise the plot of a story about a lost dog finding its way home.",
  "What are the main causes of the seasons on Earth?",
  "Write a haiku about autumn leaves.",
  "How does a bicycle stay upright when it moves?",
  "Suggest a name for a bakery and explain the choice.",
  "Write a short dialogue between a customer and a waiter.",
  "Explain what a database index is.",
  "Give a recipe for a simple tomato soup.",
  "What should I consider when buying a used car?",
  "Write a limerick about a cat who loves cheese.",
  "Describe the water cycle step by step.",
  "Write a JavaScript function that checks whether a number is prime.",
  "Why do we have leap years?",
  "Write a thank-you note to a teacher.",
  "Explain the rules of chess in a short paragraph.",
  "What are three benefits of regular exercise?",
  "Write the opening paragraph of a mystery novel.",
  "How do plants make their food?",
  "Give advice to someone starting their first job.",
  "Write a SQL query that counts orders per customer.",
  "Describe your ideal holiday in four sentences.",
  "Explain how a rainbow forms.",
];

/** `count` of the project's own prompts outside the training domain (at most 30). */
export function generalPrompts(count = GENERAL.length): string[] {
  return GENERAL.slice(0, count);
}

/** The "question" (else "prompt") fields of the first `count` lines of a JSONL file. */
export async function readQuestions(path: string, count: number): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  const out: string[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (out.length >= count) break;
    if (!line.trim()) continue;
    let q: unknown;
    try {
      const record = JSON.parse(line);
      q = record.question ?? record.prompt;
    } catch {
      throw new Error(`${path}:${i + 1}: not a JSON line`);
    }
    if (typeof q !== "string") {
      throw new Error(`${path}:${i + 1}: no "question" or "prompt" string`);
    }
    out.push(q);
  }
  return out;
}

/** GSM8K's test split beside the project (../shared/data), if present. */
export const GSM8K_TEST = decodeURIComponent(
  new URL("../../shared/data/gsm8k-test.jsonl", import.meta.url).pathname,
);

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
