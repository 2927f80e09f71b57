#!/usr/bin/env python3
"""Runs lm-evaluation-harness (its `hf` backend, offline) on local benchmark files: the reference for packbench eval.

Each benchmark runs as lm-eval's own task configuration (its YAML, included by absolute path) with
only the data source swapped for the files under --data-root, plus the task overrides listed in
OVERRIDES below, which hand lm-eval packbench's documented choices where the two differ on
purpose. The result is one JSON line per document, in a neutral shape that
tests/harness/test_real_lm_eval_parity.cpp compares with packbench's samples:

  {"task": "mmlu", "subtask": "abstract_algebra", "doc_id": 0, "prompt": "...",
   "loglikelihoods": [...], "response": "...", "filtered": {"strict-match": "..."},
   "metrics": {"acc,none": 1.0}}

Usage: lm_eval_parity.py --model DIR --data-root DIR --tasks mmlu,gsm8k --limit N --out DIR
"""
import argparse
import json
import os
import pathlib
import sys

# Why each task differs from lm-eval's stock configuration here (printed into the output).
OVERRIDES = {
    "mmlu": "none: lm-eval's mmlu template and description, 5-shot (`--num_fewshot 5`); data from the hendrycks CSVs",
    "gsm8k": "num_fewshot 4 with sampler first_n (packbench's first 4 train problems) instead of 5 seeded-random",
    "math": "packbench's Minerva prompt layout ('Solution:' then a newline before each solution), the first "
            "exemplar's problem as the Minerva prompt printed it (a stray '}' after '$.', which lm-eval 0.4.13 "
            "dropped) and max_gen_toks 1024; exemplars otherwise, filters and sympy equivalence are lm-eval's",
    "bbh": "stop sequence 'Q:' instead of a bare 'Q'; the question ends at \"Let's think step by step.\" as in "
           "the BIG-Bench-Hard repository (lm-eval 0.4.13 adds a newline after it; its exemplars are unchanged)",
    "ifeval": "none (langdetect seeded 0, as packbench's port is)",
    "humaneval": "lm-eval's task settings; pass/fail by running prompt + completion + test + check() in a "
                 "python3 subprocess (3 s), as code_eval does, since code_eval itself must be fetched from the Hub",
}

MATH_SUBJECTS = {  # MATH `type` (packbench's subtask) -> lm-eval's minerva_math subtask
    "Algebra": "algebra", "Counting & Probability": "counting_and_prob", "Geometry": "geometry",
    "Intermediate Algebra": "intermediate_algebra", "Number Theory": "num_theory",
    "Prealgebra": "prealgebra", "Precalculus": "precalc",
}

UTILS = '''
"""Document adapters for the parity tasks: local files into the shapes lm-eval's templates expect."""
import os
import subprocess
import sys

import datasets


def mmlu_docs(ds: datasets.Dataset) -> datasets.Dataset:
    letters = ["A", "B", "C", "D"]
    # A new integer column renamed to `answer`: mapping onto `answer` itself keeps the letter column's type.
    return ds.map(lambda d: {"question": d["question"], "choices": [d["A"], d["B"], d["C"], d["D"]],
                             "label": letters.index(d["answer"].strip())},
                  remove_columns=ds.column_names).rename_column("label", "answer")


def math_docs_for(subject):
    from lm_eval.tasks.minerva_math import utils as mm

    def docs(ds):
        return mm.process_docs(ds.filter(lambda d: d["type"] == subject))
    return docs


def math_docs_algebra(ds): return math_docs_for("Algebra")(ds)
def math_docs_counting_and_prob(ds): return math_docs_for("Counting & Probability")(ds)
def math_docs_geometry(ds): return math_docs_for("Geometry")(ds)
def math_docs_intermediate_algebra(ds): return math_docs_for("Intermediate Algebra")(ds)
def math_docs_num_theory(ds): return math_docs_for("Number Theory")(ds)
def math_docs_prealgebra(ds): return math_docs_for("Prealgebra")(ds)
def math_docs_precalc(ds): return math_docs_for("Precalculus")(ds)


def math_fewshot():
    """lm-eval's four Minerva exemplars, the first problem as the Minerva prompt printed it (and
    packbench and lm-eval's minerva_math 1.0 use it): with a stray closing brace after "$."."""
    from lm_eval.tasks.minerva_math import utils as mm
    shots = [dict(s) for s in mm.list_fewshot_samples()]
    if not shots[0]["problem"].endswith("$."):
        raise SystemExit("lm_eval_parity.py: lm-eval's first Minerva exemplar changed: " + shots[0]["problem"])
    shots[0]["problem"] += "}"
    return shots


def math_doc_to_text(doc):
    return "Problem:\\n" + doc["problem"] + "\\n\\nSolution:"


def humaneval_predictions(resps, docs):
    return [[doc["prompt"] + r for r in resp] for resp, doc in zip(resps, docs)]


def humaneval_pass_at_1(references, predictions, k=None):
    program = predictions[0][0] + "\\n" + references[0] + "\\n"
    try:
        r = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=3.0,
                           stdin=subprocess.DEVNULL, cwd=os.environ.get("TMPDIR", "/tmp"))
        return 1.0 if r.returncode == 0 else 0.0
    except subprocess.TimeoutExpired:
        return 0.0
'''


def q(s):
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(s)


def lm_eval_tasks_dir():
    import lm_eval.tasks
    return pathlib.Path(lm_eval.tasks.__file__).parent


def write_tasks(inc: pathlib.Path, root: pathlib.Path, tasks, lm_tasks: pathlib.Path, max_gen_toks):
    """Writes the YAML files; returns {lm-eval task name: (packbench task, packbench subtask)}."""
    names = {}
    (inc / "pbref_utils.py").write_text(UTILS)

    def gen_toks(default):
        return max_gen_toks if max_gen_toks else default

    def write(name, body, task, subtask):
        (inc / f"{name}.yaml").write_text(body)
        names[name] = (task, subtask)

    if "mmlu" in tasks:
        for csv in sorted((root / "mmlu" / "test").glob("*_test.csv")):
            subject = csv.name[: -len("_test.csv")]
            dev = root / "mmlu" / "dev" / f"{subject}_dev.csv"
            description = q(f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n")
            write(f"pbref_mmlu_{subject}", f"""include: {lm_tasks}/mmlu/default/_default_template_yaml
task: pbref_mmlu_{subject}
dataset_path: csv
dataset_name: null
dataset_kwargs:
  data_files: {{test: {q(str(csv))}, dev: {q(str(dev))}}}
  column_names: [question, A, B, C, D, answer]
  keep_default_na: false
process_docs: !function pbref_utils.mmlu_docs
num_fewshot: 5
description: {description}
""", "mmlu", subject)
    if "gsm8k" in tasks:
        g = root / "gsm8k"
        write("pbref_gsm8k", f"""include: {lm_tasks}/gsm8k/gsm8k.yaml
task: pbref_gsm8k
tag: []
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files: {{train: {q(str(g / 'train.jsonl'))}, test: {q(str(g / 'test.jsonl'))}}}
num_fewshot: 4
fewshot_config:
  sampler: first_n
generation_kwargs:
  until: ["Question:", "</s>", "<|im_end|>"]
  do_sample: false
  temperature: 0.0
  max_gen_toks: {gen_toks(256)}
""", "gsm8k", "")
    if "math" in tasks:
        for subject, sub in MATH_SUBJECTS.items():
            write(f"pbref_math_{sub}", f"""include: {lm_tasks}/minerva_math/minerva_math_{sub}.yaml
task: pbref_math_{sub}
tag: []
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files: {{test: {q(str(root / 'math' / 'test.jsonl'))}}}
training_split: null
process_docs: !function pbref_utils.math_docs_{sub}
doc_to_text: !function pbref_utils.math_doc_to_text
target_delimiter: "\\n"
fewshot_config:
  sampler: first_n
  samples: !function pbref_utils.math_fewshot
generation_kwargs:
  until: ["Problem:"]
  do_sample: false
  temperature: 0
  max_gen_toks: {gen_toks(1024)}
""", "math", subject)
    if "bbh" in tasks:
        for f in sorted((root / "bbh" / "bbh").glob("*.json")):
            t = f.stem
            import yaml
            stock = yaml.safe_load((lm_tasks / "bbh" / "cot_fewshot" / f"{t}.yaml").read_text())
            shots = json.dumps(stock["fewshot_config"]["samples"])
            write(f"pbref_bbh_{t}", f"""include: {lm_tasks}/bbh/cot_fewshot/{t}.yaml
task: pbref_bbh_{t}
doc_to_text: "Q: {{{{input}}}}\\nA: Let's think step by step."
fewshot_config:
  sampler: first_n
  doc_to_text: "Q: {{{{input}}}}\\nA: Let's think step by step.\\n"
  samples: {shots}
tag: []
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files: {{test: {q(str(f))}}}
  field: examples
generation_kwargs:
  max_gen_toks: {gen_toks(1024)}
  until: ["</s>", "Q:", "\\n\\n"]
  do_sample: false
  temperature: 0.0
""", "bbh", t)
    if "ifeval" in tasks:
        write("pbref_ifeval", f"""include: {lm_tasks}/ifeval/ifeval.yaml
task: pbref_ifeval
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files: {{train: {q(str(root / 'ifeval' / 'input_data.jsonl'))}}}
generation_kwargs:
  until: []
  do_sample: false
  temperature: 0.0
  max_gen_toks: {gen_toks(1280)}
""", "ifeval", "")
    if "humaneval" in tasks:
        he = root / "humaneval" / "HumanEval.jsonl.gz"
        plain = inc / "HumanEval.jsonl"
        import gzip
        plain.write_bytes(gzip.decompress(he.read_bytes()))
        write("pbref_humaneval", f"""task: pbref_humaneval
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files: {{test: {q(str(plain))}}}
unsafe_code: true
output_type: generate_until
test_split: test
doc_to_text: "{{{{prompt}}}}"
doc_to_target: "{{{{test}}}}\\ncheck({{{{entry_point}}}})"
metric_list:
  - metric: !function pbref_utils.humaneval_pass_at_1
    aggregation: mean
    higher_is_better: true
generation_kwargs:
  until: ["\\nclass", "\\ndef", "\\n#", "\\nif", "\\nprint"]
  max_gen_toks: {gen_toks(1024)}
  do_sample: false
repeats: 1
num_fewshot: 0
filter_list:
  - name: "create_test"
    filter:
      - function: "custom"
        filter_fn: !function pbref_utils.humaneval_predictions
""", "humaneval", "")
    return names


def neutral(sample, task, subtask):
    """One lm-eval sample in the shape the parity test reads."""
    args = sample.get("arguments") or []
    first = args[0] if args else []
    if isinstance(first, dict):  # newer lm-eval logs arguments as {"gen_args_0": {"arg_0": ..., "arg_1": ...}}
        first = [v for _, v in sorted(first.items())]
    prompt = first[0] if first else ""
    out = {"task": task, "subtask": subtask, "doc_id": sample["doc_id"], "prompt": prompt, "metrics": {}}
    resps = sample.get("resps") or []
    if sample.get("filter") is not None:
        out["filter"] = sample["filter"]
    if resps and isinstance(resps[0], list) and resps[0] and isinstance(resps[0][0], (list, tuple)):
        out["loglikelihoods"] = [float(r[0][0]) for r in resps]  # multiple choice: [[(ll, greedy)], ...]
        out["continuations"] = [a[1] if isinstance(a, (list, tuple)) else a for a in
                                [[v for _, v in sorted(x.items())] if isinstance(x, dict) else x for x in args]]
    elif resps:
        out["response"] = resps[0][0]
    filtered = sample.get("filtered_resps")
    if filtered is not None and "response" in out:
        out["filtered"] = {sample.get("filter", "none"): filtered[0] if isinstance(filtered, list) else filtered}
    for k, v in sample.items():
        if isinstance(v, (int, float)) and k not in ("doc_id",):
            out["metrics"][k] = v
        elif isinstance(v, list) and k.startswith("inst_level"):
            out["metrics"][k] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--tasks", required=True)
    ap.add_argument("--limit", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-gen-toks", type=int, default=0, help="override every generation length")
    ap.add_argument("--batch-size", default="1")
    a = ap.parse_args()
    tasks = [t for t in a.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in OVERRIDES]
    if unknown:
        sys.exit(f"lm_eval_parity.py: unknown task(s) {unknown}; known: {sorted(OVERRIDES)}")
    root = pathlib.Path(a.data_root).resolve()
    if not root.is_dir():
        sys.exit(f"lm_eval_parity.py: --data-root {root}: not a folder")
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                      HF_ALLOW_CODE_EVAL="1", HF_DATASETS_CACHE=str(out / "hf_datasets"),
                      TOKENIZERS_PARALLELISM="false")

    import langdetect
    langdetect.DetectorFactory.seed = 0
    import lm_eval
    from lm_eval.tasks import TaskManager

    inc = out / "tasks"
    inc.mkdir(exist_ok=True)
    sys.path.insert(0, str(inc))
    names = write_tasks(inc, root, tasks, lm_eval_tasks_dir(), a.max_gen_toks)
    tm = TaskManager(include_path=str(inc))
    res = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={a.model},dtype=float32,device=cpu",
        tasks=sorted(names), limit=a.limit, log_samples=True, task_manager=tm,
        batch_size=a.batch_size, confirm_run_unsafe_code=True, random_seed=0, numpy_random_seed=0,
        torch_random_seed=0, fewshot_random_seed=0)
    tmp = out / "reference.jsonl.tmp"
    with open(tmp, "w") as f:
        for name, samples in sorted(res["samples"].items()):
            task, subtask = names[name]
            for s in sorted(samples, key=lambda s: (s["doc_id"], str(s.get("filter")))):
                f.write(json.dumps(neutral(s, task, subtask), default=str) + "\n")
    os.replace(tmp, out / "reference.jsonl")
    (out / "overrides.json").write_text(json.dumps({t: OVERRIDES[t] for t in tasks}, indent=1))
    (out / "lm_eval_version.txt").write_text(lm_eval.__version__ + "\n")
    print(f"lm_eval_parity.py: {sum(len(s) for s in res['samples'].values())} samples -> {out / 'reference.jsonl'}")


if __name__ == "__main__":
    main()
