#!/usr/bin/python3
"""Writes the HAND-MADE fixture of the report tests: a compress report of
LeNet-300-100 and the assessment table of the same (imaginary) run.

Nothing here was measured by this script: the values were picked by hand to
be plausible for LeNet-300-100 on Fashion-MNIST pruned to 3.06% of its fully
connected weights (docs/RESULTS.md), the curve shapes scaled from a real
assessment of a 3.34% model. The structure is that of report_to_json
(src/pipeline/report.cpp, with the selection / certification / uncertified
fields) plus fields the report is about to gain (prune.steps, command_line,
deepsz_version). Sums are consistent (stream bytes, file bytes, ratio,
drops = 100 * (right->wrong - wrong->right) / images).

Regenerate: /usr/bin/python3 tests/report/data/make_handmade_fixture.py
"""
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
VAL, TEST, CERT = 5000, 10000, 10000


def cp_upper(k, n, conf):
    """One-sided Clopper-Pearson upper bound of a binomial proportion."""
    if k >= n:
        return 1.0
    lo, hi = k / n if n else 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        cdf = sum(math.comb(n, i) * mid**i * (1 - mid) ** (n - i) for i in range(k + 1))
        if cdf > 1 - conf:
            lo = mid
        else:
            hi = mid
    return hi


def paired_bound(c2w, w2c, images, conf):
    n = c2w + w2c
    if n == 0:
        return 0.0
    u = cp_upper(c2w, n, conf)
    return 100.0 * n * (2 * u - 1) / images


def candidate(bound, index_bytes, value_bytes, c2w, w2c):
    return {"bound": bound, "index_bytes": index_bytes, "value_bytes": value_bytes,
            "top1_drop": round(100.0 * (c2w - w2c) / VAL, 10), "correct_to_wrong": c2w,
            "wrong_to_correct": w2c, "images": VAL}


# (name, kind, shape, density, sparse, index bytes, [(bound, value bytes, c2w, w2c)], chosen bound)
tensors = [
    ("fc1.weight", "fc_weight", [300, 784], 6162 / 235200, True, 4450,
     [(0.0, 21230, 0, 0), (0.003609528924403532, 4680, 3, 3), (0.007219057848807064, 3890, 10, 11),
      (0.014438115697614128, 3128, 26, 16), (0.02041857903467778, 2771, 42, 32),
      (0.024281919466284208, 2573, 46, 39), (0.026479620941937974, 2481, 57, 41),
      (0.028876231395228255, 2422, 88, 57)], 0.007219057848807064),
    ("fc1.bias", "bias", [300], 1.0, False, 0,
     [(0.0, 1161, 0, 0), (0.001740637343720562, 264, 0, 1), (0.003481274687441124, 226, 0, 4),
      (0.006962549374882248, 186, 4, 4), (0.013925098749764496, 147, 6, 4),
      (0.02785019749952899, 111, 17, 13), (0.05570039499905798, 78, 47, 29)], 0.013925098749764496),
    ("fc2.weight", "fc_weight", [100, 300], 1650 / 30000, True, 900,
     [(0.0, 5621, 0, 0), (0.005874661055002651, 1287, 2, 2), (0.011749322110005301, 1075, 3, 2),
      (0.023498644220010603, 867, 10, 5), (0.046997288440021205, 667, 22, 14),
      (0.09399457688004241, 475, 40, 27), (0.1117790195974167, 424, 47, 39),
      (0.1218958852207243, 403, 66, 39), (0.18798915376008482, 336, 107, 70)], 0.023498644220010603),
    ("fc2.bias", "bias", [100], 1.0, False, 0,
     [(0.0, 410, 0, 0), (0.0017749690781911243, 94, 0, 0), (0.007099876312764497, 68, 1, 4),
      (0.02839950525105799, 42, 7, 6)], 0.007099876312764497),
    ("fc3.weight", "fc_weight", [10, 100], 334 / 1000, True, 130,
     [(0.0, 1262, 0, 0), (0.002024226430873551, 379, 1, 1), (0.008096905723494204, 286, 4, 2),
      (0.016193811446988407, 240, 8, 4), (0.032387622893976814, 196, 17, 9),
      (0.06477524578795363, 155, 26, 13), (0.07703118316708449, 145, 28, 33),
      (0.09160603109937472, 135, 56, 40), (0.12955049157590726, 115, 79, 41)], 0.016193811446988407),
    ("fc3.bias", "bias", [10], 1.0, False, 0,
     [(0.0, 49, 0, 0), (0.0010244202005360874, 27, 0, 0), (0.0040976808021443495, 25, 0, 0),
      (0.016390723208577398, 22, 0, 1)], 0.016390723208577398),
]

table_layers, report_layers = [], []
tensor_bytes = 0
for name, kind, shape, density, sparse, index_bytes, cands, chosen in tensors:
    elements = math.prod(shape)
    cs = [candidate(b, index_bytes, v, c2w, w2c) for b, v, c2w, w2c in cands]
    table_layers.append({"name": name, "elements": elements, "density": density, "candidates": cs})
    pick = next(c for c in cs if c["bound"] == chosen)
    tensor_bytes += pick["index_bytes"] + pick["value_bytes"]
    report_layers.append({
        "name": name, "kind": kind, "shape": shape, "elements": elements, "density": density,
        "sparse": sparse, "coding": ("sparse context+dsz" if sparse else "dense dsz"),
        "error_bound": chosen, "index_bytes": pick["index_bytes"], "value_bytes": pick["value_bytes"],
        "assessed_drop_pp": pick["top1_drop"], "candidates": len(cs)})

metadata_bytes, framing_bytes = 273, 250
dsz_bytes = tensor_bytes + metadata_bytes + framing_bytes
original_bytes = 266610 * 4

dense_val, dense_test, input_val, input_test = 0.9016, 0.8972, 0.9006, 0.8957
after_val, after_test = 0.8990, 0.8920
cert_conf, cert_before = 0.9, 0.8981

looks_counts = [(0, 0), (21, 19), (38, 31), (64, 49), (79, 51)]
lossless_bytes = sum(t[5] + t[6][0][1] for t in tensors)
ladder = [{"bytes": lossless_bytes, "origin": "every tensor lossless", "selection_drop_pp": 0.0},
          {"bytes": 14210, "origin": "solved at 0.125 of the budget", "selection_drop_pp": 0.02},
          {"bytes": 12306, "origin": "solved at 0.25 of the budget", "selection_drop_pp": 0.06},
          {"bytes": tensor_bytes, "origin": "solved at 0.5 of the budget", "selection_drop_pp": 0.16},
          {"bytes": 10102, "origin": "guarantee step 2", "selection_drop_pp": 0.18}]
looks = []
for i, (c2w, w2c) in enumerate(looks_counts):
    ub = paired_bound(c2w, w2c, CERT, cert_conf)
    looks.append({"candidate": i, "correct_to_wrong": c2w, "wrong_to_correct": w2c, "images": CERT,
                  "drop_pp": round(100.0 * (c2w - w2c) / CERT, 10), "upper_bound_pp": ub,
                  "passed": ub <= 0.3 + 1e-9})
assert [l["passed"] for l in looks] == [True, True, True, True, False], looks
chosen_look = looks[3]
cert_statement = (
    "With 90%% confidence the chosen model loses at most %.2f points of top-1 against the reference (budget 0.3): "
    "measured %.2f points on %d certification images that no decision used (%d right->wrong, %d wrong->right; "
    "exact paired test), candidate 4 of 5, 5 look(s) in a fixed order from the safest (fixed-sequence testing: "
    "no share of the confidence is spent on the looks)."
    % (chosen_look["upper_bound_pp"], chosen_look["drop_pp"], CERT, chosen_look["correct_to_wrong"],
       chosen_look["wrong_to_correct"]))


def bounds_of(choice):
    return [{"name": t[0], "candidate": i, "bound": t[6][i][0]} for t, i in zip(tensors, choice)]


guarantee_choice = [3, 4, 4, 2, 4, 3]
history = [
    {"action": "measured 0.24 > budget: effective budget 0.2 -> 0.1667", "bytes": 9688,
     "correct_to_wrong": 61, "drop_upper_bound": 0.8412, "effective_budget": 0.2, "estimated_drop": 0.2,
     "images": VAL, "layers": bounds_of([4, 4, 5, 2, 4, 3]), "measured_drop": 0.24, "within_budget": False,
     "wrong_to_correct": 49},
    {"action": "accepted: measured drop within the budget", "bytes": 10102, "correct_to_wrong": 58,
     "drop_upper_bound": 0.7704, "effective_budget": 0.1667, "estimated_drop": 0.16, "images": VAL,
     "layers": bounds_of(guarantee_choice), "measured_drop": 0.18, "within_budget": True, "wrong_to_correct": 49},
    {"action": "loosening over the budget: keeping the configuration of step 2", "bytes": 9801,
     "correct_to_wrong": 66, "drop_upper_bound": 0.9231, "effective_budget": 0.25, "estimated_drop": 0.24,
     "images": VAL, "layers": bounds_of([4, 4, 4, 3, 5, 3]), "measured_drop": 0.28, "within_budget": False,
     "wrong_to_correct": 52},
]

prune_steps = []
density, top1s = 1.0, [0.9021, 0.9018, 0.9024, 0.9015, 0.9012, 0.9019, 0.9008, 0.9011, 0.9004, 0.9009,
                       0.9002, 0.9006, 0.8978]
densities = [0.75, 0.5625, 0.4219, 0.3164, 0.2373, 0.178, 0.1335, 0.1001, 0.0751, 0.0563, 0.0422, 0.0306, 0.023]
for d, t in zip(densities, top1s):
    drop = round((dense_val - t) * 100, 10)
    prune_steps.append({"density": d, "selection_top1": t, "drop_pp": drop, "accepted": drop <= 0.2})

report = {
    "architecture": "lenet300",
    "assessed_candidates": sum(len(t[6]) - 1 for t in tensors),
    "assessment_reused": False,
    "budget_against": "dense",
    "budget_pp": 0.2,
    "certification": {
        "against": "dense", "candidates": 5, "confidence": cert_conf,
        "correct_to_wrong": chosen_look["correct_to_wrong"],
        "detail": {"budget_pp": 0.3, "candidates": 5, "certified": True, "chosen": 3, "confidence": cert_conf,
                   "ladder": ladder, "looks": looks, "planned": [0, 1, 2, 3, 4], "rule": "fixed-sequence",
                   "statement": cert_statement},
        "drop_pp": chosen_look["drop_pp"], "images": CERT, "looks": 5, "max_looks": 8, "passed": True,
        "rule": "fixed-sequence, exact paired test on the discordant images", "statement": cert_statement,
        "top1_after": round(cert_before - chosen_look["drop_pp"] / 100, 10), "top1_before": cert_before,
        "upper_bound_pp": chosen_look["upper_bound_pp"], "wrong_to_correct": chosen_look["wrong_to_correct"]},
    "command_line": "deepsz compress lenet300-pruned-0.3-m0.1.pt --max-loss 0.3 --assessment "
                    "lenet300-0.3.assessment.json --report lenet300-0.3.json -o lenet300-0.3.dsz",
    "deepsz_version": "0.1.0",
    "dense_recorded": True,
    "drop_confidence": 0.95,
    "drop_upper_bound_pp": 0.6912,
    "dsz_bytes": dsz_bytes,
    "estimated_drop_pp": 0.14,
    "format": "deepsz-compress-report",
    "guarantee": {"budget": 0.2, "bytes": 10102, "confidence": 0.95, "drop_upper_bound": 0.7704,
                  "estimated_drop": 0.16, "history": history, "layers": bounds_of(guarantee_choice),
                  "lossless_bytes": lossless_bytes, "measured_drop": 0.18, "measurements": 3,
                  "statement": "Budget 0.2 points of validation top-1. Chosen configuration: 10102 bytes (every "
                               "layer exact: %d bytes). Additive estimate 0.16 points (monotone_envelope); measured "
                               "drop 0.18 points on 5000 images (58 correct->wrong, 49 wrong->correct), within the "
                               "budget after 3 measurements." % lossless_bytes,
                  "success": True},
    "holdout_drop_pp": 0.16,
    "images_assess": VAL,
    "images_holdout": 0,
    "images_test": TEST,
    "images_val": VAL,
    "input": "lenet300-pruned-0.3-m0.1.pt",
    "input_test_top1": input_test,
    "input_val_top1": input_val,
    "layers": report_layers,
    "max_loss_pp": 0.3,
    "measured_drop_pp": 0.16,
    "measurements": 3,
    "metadata_bytes": metadata_bytes,
    "method": "deepsz",
    "original_bytes": original_bytes,
    "output": "lenet300-0.3.dsz",
    "prune": {"steps": prune_steps},
    "pruning_loss_pp": 0.1,
    "ratio": original_bytes / dsz_bytes,
    "seconds": {"assess": 1.71, "evaluate": 0.77, "generate": 0.02, "load": 1.04, "optimise": 0.64,
                "total": 4.18},
    "selection": {"drop_pp": 0.16, "drop_vs_dense_pp": 0.26, "images": VAL},
    "statement": cert_statement,
    "tensor_bytes": tensor_bytes,
    "test_drop_pp": 0.37,
    "test_drop_vs_dense_pp": 0.52,
    "test_top1_after": after_test,
    "test_top1_before": dense_test,
    "torchscript_bytes": 0,
    "uncertified": {"selection_drop_pp": 0.18, "tensor_bytes": 10102, "test_drop_vs_dense_pp": 0.61},
    "val_drop_pp": 0.16,
    "val_drop_vs_dense_pp": 0.26,
    "val_top1_after": after_val,
    "val_top1_before": dense_val,
    "version": 1,
    "within_budget": True,
    "workers": 1,
}
table = {"format": "deepsz-assessment", "images": VAL,
         "model": "lenet300 params=0000000000000000 method=deepsz fc_only=0 val=5000",
         "reference_top1": 90.06, "split": "validation", "version": 1, "layers": table_layers}

with open(os.path.join(HERE, "handmade_lenet300_report.json"), "w") as f:
    json.dump(report, f, indent=2, sort_keys=True)
    f.write("\n")
with open(os.path.join(HERE, "handmade_lenet300_assessment.json"), "w") as f:
    json.dump(table, f, indent=2, sort_keys=True)
    f.write("\n")
print("tensor bytes", tensor_bytes, "dsz", dsz_bytes, "ratio %.2f" % (original_bytes / dsz_bytes),
      "cert bound %.3f" % chosen_look["upper_bound_pp"], [round(l["upper_bound_pp"], 3) for l in looks])
