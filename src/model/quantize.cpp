// Retraining onto lattices the coder keeps exactly (docs/QUANTIZE.md).
#include "deepsz/model/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <tuple>
#include <iterator>
#include <numeric>
#include <sstream>

#include "deepsz/codec.h"
#include "deepsz/optimize.h"
#include "training.h"

namespace deepsz::model {
using namespace detail;

Model quantize(const Model& input, const Dataset& data, const QuantizeOptions& o, QuantizeReport* report) {
  const auto t_start = Clock::now();
  if (!(o.max_loss >= 0 && o.max_loss <= 100)) throw Error(ErrorCode::invalid_argument, "--max-loss must be in [0, 100] points");
  if (!(o.start > 0 && o.start < 100)) throw Error(ErrorCode::invalid_argument, "--start must be in (0, 100)");
  if (!(o.growth > 1 && o.growth <= 4)) throw Error(ErrorCode::invalid_argument, "--growth must be in (1, 4]");
  if (o.max_levels < 1 || o.epochs < 1) throw Error(ErrorCode::invalid_argument, "--levels and --epochs must be >= 1");
  if (!(o.margin >= 0)) throw Error(ErrorCode::invalid_argument, "the validation margin must be >= 0");
  if (!(o.distill >= 0 && o.distill <= 1) || !(o.temperature > 0))
    throw Error(ErrorCode::invalid_argument, "--distill must be in [0, 1] and --temperature > 0");
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  Model model = input;
  Model::Impl& m = model.impl();
  std::vector<std::string> names;
  if (o.layers.empty() && !input.masked_parameters().empty()) names = input.masked_parameters();
  else names = prunable_parameters(input, o.layers, true);

  torch::Tensor X, Y;
  Distillation distill;
  try {
    X = images_tensor(data.train, model.preprocessing());
    Y = labels_tensor(data.train);
    if (o.distill > 0) {
      distill.logits = logits_of(m, X);
      distill.alpha = o.distill;
      distill.temperature = o.temperature;
    }
  } catch (const c10::Error& e) {
    throw_from_torch(e, "quantize");
  }

  const Augmentation augment = augmentation_for(model, o.augment_shift);
  // Reference: the input on the same validation images (paired), the budget
  // counted from its dense ancestor when it records one.
  Evaluator ref_eval(model, data);
  const std::vector<uint8_t> ref_val = ref_eval.correct(Split::val);
  const double ref_val_top1 = mean_of(ref_val);
  const double ref_test_top1 = ref_eval.evaluate(Split::test).top1_rate();
  log("input: val top-1 " + fmt(100 * ref_val_top1) + "%, test top-1 " + fmt(100 * ref_test_top1) + "%");
  const double spent_pp = budget_spent(input, data, ref_val_top1, log);
  const std::string dense_cert = dense_cert_record(input, ref_eval, data);
  const double accept = o.max_loss - std::min(o.margin, 0.5 * o.max_loss);
  // As prune's: readings carry the certification reserve.
  const bool reserve = data.certified() && o.certify_confidence > 0;
  if (reserve && !(o.certify_confidence < 1))
    throw Error(ErrorCode::invalid_argument, "the certification confidence must be in (0, 1)");
  auto drop_points = [&](const std::vector<uint8_t>& c) {
    return paired_drop_points(ref_val, c, spent_pp) +
           (reserve ? reserve_points(ref_val, c, data.cert.size(), o.certify_confidence) : 0.0);
  };

  // Each tensor's spread: the rms of its nonzeros (its survivors).
  std::map<std::string, double> rms;
  for (const auto& name : names) {
    torch::Tensor w = m.param(name).detach();
    torch::Tensor nz = w.masked_select(w.ne(0));
    rms[name] = nz.numel() > 0 ? nz.square().mean().sqrt().item<double>() : 0.0;
  }
  // Each tensor's own base step (relative to its rms): the largest of the
  // grid start * growth^k (up to 1.6 rms) at which snapping that tensor
  // alone, without retraining, loses at most `free` points (envelope: the
  // worst reading at any finer step), with `free` at least 0.5 points: these
  // readings wobble by +-0.2 (LeNet-300 fc1: 0.16 at 0.1 rms, 0.00 at 0.28),
  // so the scan finds where a tensor visibly breaks. One relative step for
  // every tensor let the most sensitive one set everybody's: LeNet-5 lost
  // 0.2 points at 0.1 rms, where LeNet-300's fc2 alone holds at 0.8.
  const double free_pp = std::max(0.5, 0.5 * (accept - spent_pp) / static_cast<double>(names.size()));
  std::map<std::string, double> base;
  {
    Evaluator ev(model, data);
    std::string line = "base steps (each tensor alone, snapped, within " + fmt(free_pp, 2) + " points):";
    for (const auto& name : names) {
      if (!(rms[name] > 0)) continue;
      std::string curve;
      base[name] = o.start;
      double worst = 0;
      for (double c = o.start; c <= 1.6 + 1e-9; c *= o.growth) {
        const float step = static_cast<float>(c * rms[name]);
        torch::Tensor q = snap_to_lattice(m.param(name).detach(), step).contiguous();
        ParameterOverrides ov;
        ov[name] = std::vector<float>(q.data_ptr<float>(), q.data_ptr<float>() + q.numel());
        const double d = paired_drop_points(ref_val, ev.correct(Split::val, ov), 0.0);  // no reserve: where it breaks
        worst = std::max(worst, d);
        curve += " " + fmt(c, 2) + ":" + fmt(d, 2);
        if (worst > free_pp + 1e-9) break;
        base[name] = c;
      }
      log("  " + name + " snapped alone (step/rms:drop)" + curve);
      line += " " + name + " " + fmt(base[name], 3) + " rms";
    }
    log(line);
  }
  auto lattice_at = [&](double g) {
    std::map<std::string, float> steps;
    for (const auto& [name, b] : base) steps[name] = static_cast<float>(g * b * rms[name]);
    return steps;
  };
  auto snapped = [&](const Model& from, const std::map<std::string, float>& steps) {
    Model out = from;
    torch::NoGradGuard g;
    for (const auto& [name, step] : steps) out.impl().param(name).copy_(snap_to_lattice(out.impl().param(name), step));
    return out;
  };
  // The codec's yardstick: H(round(w / step)) over the nonzeros, bound step / 2.
  auto entropy_bits = [](const torch::Tensor& w, float step) {
    torch::Tensor nz = w.masked_select(w.ne(0)).contiguous();
    return quantisation_entropy_bits(nz.data_ptr<float>(), static_cast<size_t>(nz.numel()), 0.5 * step);
  };

  // Levels from fine to coarse; each retrains (straight-through) from the
  // previous level's float weights, reads the paired val drop twice (after
  // the last two epochs, snapped) and gets one more round at half the rate
  // when over the acceptance bound; two failures in a row end the search.
  // The choice among accepted levels is smoothed as prune's (isotonic fit).
  std::vector<double> stats;
  std::vector<std::tuple<size_t, double, Model>> candidates;
  int failures = 0;
  uint64_t seed = o.seed;
  double c = 0.5;  // the multiplier of every tensor's base step (below 1: the combination of all may hold unretrained)
  for (int level = 0; level < o.max_levels; ++level, c *= o.growth) {
    const std::map<std::string, float> steps = lattice_at(c);
    std::vector<double> readings;
    auto read = [&](int e) {
      if (e + 2 > o.epochs) readings.push_back(drop_points(Evaluator(model, data).correct(Split::val)));
    };
    auto retrain = [&](double lr) {
      readings.clear();
      try {
        run_epochs(m, X, Y, o.epochs, lr, o.batch_size, ++seed, o.progress, read, nullptr, o.weight_decay,
                   o.distill > 0 ? &distill : nullptr, &steps, &augment);
      } catch (const c10::Error& e) {
        throw_from_torch(e, "quantisation-aware retraining failed");
      }
      return std::accumulate(readings.begin(), readings.end(), 0.0) / static_cast<double>(readings.size());
    };
    // First the snapped weights as they are: no retraining, so no
    // retraining noise (an input chosen as the luckiest of its pruning
    // steps reads worse after any retraining). Only a level that fails so
    // is retrained, and once more at half the rate if still over.
    std::string line = "level " + std::to_string(level + 1) + ": " + fmt(c, 3) + " x base";
    Model state = snapped(model, steps);
    readings.assign(1, drop_points(Evaluator(state, data).correct(Split::val)));
    double stat = readings[0];
    if (stat > accept + 1e-9) {  // however far over: retraining recovers several points (LeNet-300: 2.62 at 0.57 rms)
      log(line + ", snapped val drop " + fmt(stat, 2) + " points: retraining");
      stat = retrain(o.learning_rate);
      line = "level " + std::to_string(level + 1) + " retrained";
      if (stat > accept + 1e-9 && stat <= o.max_loss + 2.0) {
        log(line + ", val drop " + fmt(stat, 2) + " points: retraining again");
        stat = retrain(o.learning_rate * 0.5);
        line = "level " + std::to_string(level + 1) + " again";
      }
      state = snapped(model, steps);
    }
    const bool ok = stat <= accept + 1e-9;
    line += " (";
    bool first = true;
    for (const auto& [name, step] : steps) {
      line += (first ? "" : " ") + name + " " + fmt(entropy_bits(state.impl().param(name), step), 2) + " bits";
      first = false;
    }
    line += "), val drop " + fmt(stat, 2) + " points (readings";
    for (double r : readings) line += " " + fmt(r, 2);
    log(line + ") " + (ok ? "accepted" : "over budget"));
    stats.push_back(stat);
    if (ok) {
      candidates.emplace_back(stats.size() - 1, c, std::move(state));
      failures = 0;
    } else if (++failures >= 2 || stat > o.max_loss + 2.0) {
      break;
    }
  }
  const std::vector<double> smooth = isotonic_non_decreasing(stats);
  Model best = input;
  double best_c = 0, best_stat = 0;
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    const size_t k = std::get<0>(*it);
    if (smooth[k] <= accept + 1e-9) {
      best_c = std::get<1>(*it);
      best_stat = stats[k];
      best = std::move(std::get<2>(*it));
      log("chosen: level " + std::to_string(k + 1) + " (" + fmt(best_c, 3) + " x base), val drop " +
          fmt(best_stat, 2) + " points, smoothed " + fmt(smooth[k], 2));
      break;
    }
    log("level " + std::to_string(k + 1) + " rejected: smoothed val drop " + fmt(smooth[k], 2) + " points");
  }
  if (best_c == 0) log("no level met the budget: the input is returned unchanged");

  // Survivors that snapped to 0 are pruned (their mask too); each lattice is
  // recorded exactly ("%.9g" round-trips a float).
  std::vector<QuantizedLayer> layers;
  if (best_c > 0) {
    const std::map<std::string, float> steps = lattice_at(best_c);
    for (const auto& [name, step] : steps) {
      QuantizedLayer ql;
      ql.name = name;
      ql.step = step;
      ql.relative_step = static_cast<double>(step) / rms[name];
      ql.kept_before = input.nonzeros(name);
      torch::Tensor& w = best.impl().param(name);
      if (best.impl().masks.count(name)) best.impl().masks[name] = best.impl().masks[name].logical_and(w.ne(0));
      ql.kept = best.nonzeros(name);
      ql.code_entropy_bits = entropy_bits(w.detach(), step);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(step));
      best.set_metadata(std::string(meta::lattice_prefix) + name, buf);
      layers.push_back(ql);
    }
    if (input.metadata(meta::dense_val_top1).empty()) {
      best.set_metadata(meta::dense_val_top1, fraction_string(ref_val_top1));
      best.set_metadata(meta::dense_test_top1, fraction_string(ref_test_top1));
    }
    best.set_metadata(meta::quantize_max_loss, fraction_string(o.max_loss));
    best.set_metadata(meta::val_images, std::to_string(data.val.size()));
    best.set_metadata(meta::data_split, data.split_record());
    if (best.metadata(meta::dense_cert_correct).empty() && !dense_cert.empty())
      best.set_metadata(meta::dense_cert_correct, dense_cert);
  }
  Evaluator ev(best, data);
  const double val = ev.evaluate(Split::val).top1_rate();
  const double test = ev.evaluate(Split::test).top1_rate();
  best.set_metadata(meta::val_top1, fraction_string(val));
  best.set_metadata(meta::test_top1, fraction_string(test));
  if (report) {
    report->layers = std::move(layers);
    report->relative_step = best_c;
    report->val_drop_pp = best_stat;
    report->input_val_top1 = ref_val_top1;
    report->input_test_top1 = ref_test_top1;
    report->val_top1 = val;
    report->test_top1 = test;
    report->seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  }
  return best;
}

}  // namespace deepsz::model
