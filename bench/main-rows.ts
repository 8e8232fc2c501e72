/**
 * The strategy benchmark's main rows, by their benchmark names: the README's table and the
 * figures show these, with a label for tables and a short one for charts.
 */

export interface MainRow {
  name: string;
  label: string;
  short: string;
}

export const MAIN_ROWS: MainRow[] = [
  {
    name: "failfast, cost controller, lookup merged, int8 drafter (server default)",
    label: "**failfast (default: cost controller, lookup)**",
    short: "failfast (default)",
  },
  {
    name: "failfast, cost controller, int8 drafter",
    label: "failfast, cost controller, no lookup",
    short: "failfast, no lookup",
  },
  {
    name:
      "failfast (CPU-tuned, sliding sub-blocks, int8 drafter: tau 0.45, N0 2, N 2, N_max 60), lookup merged",
    label: "failfast, fixed CPU-tuned parameters, lookup",
    short: "failfast fixed + lookup",
  },
  {
    name: "failfast (CPU-tuned, sliding sub-blocks, int8 drafter: tau 0.45, N0 2, N 2, N_max 60)",
    label: "failfast, fixed CPU-tuned parameters",
    short: "failfast fixed",
  },
  {
    name: "failfast (paper defaults: tau 0.45, N0 10, N 10, N_max 60)",
    label: "failfast, the paper's parameters",
    short: "failfast paper params",
  },
  {
    name: "ar-draft, cost controller, lookup merged, int8 drafter",
    label: "AR drafter, cost controller, lookup",
    short: "AR drafter + lookup",
  },
  {
    name: "lookup (prompt lookup decoding)",
    label: "lookup alone (prompt lookup decoding)",
    short: "lookup alone",
  },
  {
    name: "dllm-fixed k=4 thr=0.9",
    label: "Fast-dLLM drafter, fixed k = 4, threshold 0.9",
    short: "Fast-dLLM k=4",
  },
];
