// Iterative pruning with masks held (docs/PRUNING.md).
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

#include "deepsz/optimize.h"
#include "training.h"

namespace deepsz::model {
using namespace detail;
namespace {

struct Layerwise {
  std::string name;
  int64_t numel = 0;
  double current = 1.0;        // density of the input model
  std::vector<double> grid;    // candidate densities, decreasing, all < current
  std::vector<double> loss;    // val points lost when only this tensor is pruned to grid[i], monotone
};

}  // namespace

std::vector<std::string> prunable_parameters(const Model& model, const std::vector<std::string>& layers, bool conv) {
  std::vector<std::string> out;
  auto params = model.parameters();
  if (!layers.empty()) {
    for (const std::string& l : layers) {
      bool found = false;
      for (const auto& p : params)
        if ((p.name == l || p.name == l + ".weight") &&
            (p.kind == ParamKind::fc_weight || p.kind == ParamKind::conv_weight)) {
          out.push_back(p.name);
          found = true;
        }
      if (!found) throw Error(ErrorCode::invalid_argument, "no fc or conv weight named '" + l + "'");
    }
    return out;
  }
  for (const auto& p : params)
    if (p.kind == ParamKind::fc_weight || (conv && p.kind == ParamKind::conv_weight)) out.push_back(p.name);
  if (out.empty()) throw Error(ErrorCode::invalid_argument, "the model has no weights to prune");
  return out;
}

std::vector<double> isotonic_non_decreasing(const std::vector<double>& y) {
  std::vector<double> level;
  std::vector<size_t> count;
  for (double v : y) {
    level.push_back(v);
    count.push_back(1);
    while (level.size() > 1 && level[level.size() - 2] > level.back()) {
      const size_t c = count.back() + count[count.size() - 2];
      const double merged = (level.back() * static_cast<double>(count.back()) +
                             level[level.size() - 2] * static_cast<double>(count[count.size() - 2])) /
                            static_cast<double>(c);
      level.pop_back();
      count.pop_back();
      level.back() = merged;
      count.back() = c;
    }
  }
  std::vector<double> out;
  for (size_t i = 0; i < level.size(); ++i) out.insert(out.end(), count[i], level[i]);
  return out;
}

Model prune(const Model& input, const Dataset& data, const PruneOptions& o, PruneReport* report) {
  const auto t_start = Clock::now();
  const bool by_loss = o.max_loss >= 0;
  if (by_loss == (o.density > 0)) throw Error(ErrorCode::invalid_argument, "give exactly one of --density or --max-loss");
  if (!by_loss && o.density > 1) throw Error(ErrorCode::invalid_argument, "--density must be in (0, 1]");
  if (o.allocation != "erk" && o.allocation != "global" && o.allocation != "sensitivity")
    throw Error(ErrorCode::invalid_argument, "allocation must be erk, global or sensitivity");
  if (!(o.step_factor > 0.1 && o.step_factor < 1))
    throw Error(ErrorCode::invalid_argument, "the step factor must be in (0.1, 1)");
  if (o.margin < 0) throw Error(ErrorCode::invalid_argument, "the validation margin must be >= 0");
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  const auto names = prunable_parameters(input, o.layers, o.conv);
  Model model = input;
  Model::Impl& m = model.impl();
  // Hidden units (o.units < 1): pairs of successive pruned fc layers with
  // only elementwise layers between them. Unit j of a pair is row j of the
  // first weight (its inputs) and column j of the second (its outputs); a
  // unit is live while both have a survivor.
  struct UnitPair {
    std::string in, out, bias;
    int64_t units = 0;
    int64_t from = 0, to = 0;  // live units at the start and at the end of the current step
  };
  std::vector<UnitPair> pairs;
  if (o.units < 1) {
    if (!(o.units > 0)) throw Error(ErrorCode::invalid_argument, "--units must be in (0, 1]");
    if (m.kind != FileKind::native)
      throw Error(ErrorCode::invalid_argument, "--units needs a model made by deepsz (it follows the layer order)");
    auto pruned = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
    for (size_t l = 0; l < m.layers.size(); ++l) {
      if (m.layers[l].kind != Layer::Kind::linear || !pruned(m.layers[l].name + ".weight")) continue;
      for (size_t k = l + 1; k < m.layers.size(); ++k) {
        const Layer::Kind kind = m.layers[k].kind;
        if (kind == Layer::Kind::relu || kind == Layer::Kind::dropout) continue;
        const std::string a = m.layers[l].name + ".weight", b = m.layers[k].name + ".weight";
        if (kind == Layer::Kind::linear && pruned(b) && m.param(a).size(0) == m.param(b).size(1))
          pairs.push_back({a, b, m.layers[l].name + ".bias", m.param(a).size(0)});
        break;
      }
    }
    if (pairs.empty())
      throw Error(ErrorCode::invalid_argument, "--units: the model has no two successive pruned fully connected layers");
  }
  // A step is accepted when its val drop is at most `accept`: the budget minus
  // a safety margin (at most half the budget), because picking the sparsest
  // state whose noisy reading is within budget selects lucky readings.
  const double accept = by_loss ? o.max_loss - std::min(o.margin, 0.5 * o.max_loss) : 0.0;

  // Reference: the input model, on the same validation images (paired).
  Evaluator ref_eval(model, data);
  const Evaluation ref_val_eval = ref_eval.evaluate(Split::val);
  const std::vector<uint8_t> ref_val = ref_val_eval.top1;
  const double ref_val_loss = ref_val_eval.mean_loss();
  const double ref_val_top1 = mean_of(ref_val);
  const double ref_test_top1 = ref_eval.evaluate(Split::test).top1_rate();
  log("input: val top-1 " + fmt(100 * ref_val_top1) + "%, test top-1 " + fmt(100 * ref_test_top1) + "%");
  const double spent_pp = by_loss ? budget_spent(input, data, ref_val_top1, log)
                                   : (check_split_record(input.metadata(meta::data_split), data, "the input"), 0.0);
  // With a certification split, every reading carries the reserve a later
  // certification will charge for its own noise (reserve_points), so pruning
  // stops while the certified bound can still cover it instead of spending it.
  const bool reserve = by_loss && data.certified() && o.certify_confidence > 0;
  if (reserve && !(o.certify_confidence < 1))
    throw Error(ErrorCode::invalid_argument, "the certification confidence must be in (0, 1)");
  double last_reserve = 0.0;  // of the latest reading, for the log
  auto drop_points = [&](const std::vector<uint8_t>& c) {
    last_reserve = reserve ? reserve_points(ref_val, c, data.cert.size(), o.certify_confidence) : 0.0;
    return paired_drop_points(ref_val, c, spent_pp) + last_reserve;
  };
  auto reserve_note = [&] { return reserve ? ", reserve " + fmt(last_reserve, 2) + " included" : std::string(); };
  if (reserve)
    log("certification reserve: every reading below adds z(" + fmt(o.certify_confidence, 2) +
        ") x the standard error its discordance would have on " + std::to_string(data.cert.size()) +
        " certification images");
  // The reference of the certification a later compress makes: the dense
  // model's correctness on each certification image (never a decision here).
  const std::string dense_cert = dense_cert_record(input, ref_eval, data);
  // The input's correctness on the held-out splits, for --trace-held-out only.
  std::vector<uint8_t> ref_cert, ref_test;
  if (o.trace_held_out) {
    if (data.certified()) ref_cert = ref_eval.correct(Split::cert);
    ref_test = ref_eval.correct(Split::test);
  }

  torch::Tensor X, Y;
  try {
    X = images_tensor(data.train, model.preprocessing());
    Y = labels_tensor(data.train);
  } catch (const c10::Error& e) {
    throw_from_torch(e, "prune");
  }
  // The input model's logits of every training image, the teacher of the retraining.
  Distillation distill;
  if (o.distill > 0) {
    if (!(o.distill <= 1) || !(o.temperature > 0))
      throw Error(ErrorCode::invalid_argument, "--distill must be in [0, 1] and --temperature > 0");
    try {
      distill.logits = logits_of(m, X);
    } catch (const c10::Error& e) {
      throw_from_torch(e, "prune");
    }
    distill.alpha = o.distill;
    distill.temperature = o.temperature;
  }
  const Augmentation augment = augmentation_for(model, o.augment_shift);
  // The decision images: training images shifted by up to decision_shift
  // pixels (a fixed draw), with the input's outputs on them as the reference.
  struct DecisionSet {
    torch::Tensor X, Y, ref_logp, ref_pred;
    std::vector<uint8_t> ref;
  } dec;
  const bool decide_on_training = by_loss && o.decide_on_training_images;
  if (decide_on_training && o.decision_images <= 0)
    throw Error(ErrorCode::invalid_argument, "deciding on the training images needs --decision-images N > 0");
  // A selection reading's own noise at the certification's confidence, and
  // the acceptance rule of a step and of the fine-tuned result: the
  // statistic within the bound, and, deciding on the training images, the
  // selection reading within its noise of it.
  auto selection_noise = [&](const std::vector<uint8_t>& c) {
    return reserve_points(ref_val, c, static_cast<int64_t>(ref_val.size()), o.certify_confidence);
  };
  auto passes = [&](double statistic, double selection, double noise) {
    return statistic <= accept + 1e-9 && (!decide_on_training || selection <= accept + noise + 1e-9);
  };
  if (by_loss && o.decision_images > 0) {
    try {
      const int64_t n = std::min<int64_t>(o.decision_images, X.size(0));
      std::vector<int64_t> perm = permutation(X.size(0), o.seed * 7919ULL + 17ULL);
      perm.resize(static_cast<size_t>(n));
      torch::Tensor idx = torch::tensor(perm, torch::kInt64);
      uint64_t rng = o.seed * 104729ULL + 3ULL;
      dec.X = translate(X.index_select(0, idx), augmentation_for(model, o.decision_shift), rng);
      dec.Y = Y.index_select(0, idx);
      torch::Tensor lg = logits_of(m, dec.X);
      dec.ref_logp = torch::log_softmax(lg, 1);
      dec.ref_pred = lg.argmax(1);
      dec.ref = flag_bytes(dec.ref_pred.eq(dec.Y));
    } catch (const c10::Error& e) {
      throw_from_torch(e, "prune");
    }
    log("decision images: " + std::to_string(dec.ref.size()) + " training images shifted by up to " +
        std::to_string(o.decision_shift) + " pixels; input top-1 on them " + fmt(100 * mean_of(dec.ref)) + "%");
  }
  // The decision signal of the current weights: paired drop (points, plus
  // what earlier steps spent), agreement with the input's predictions, KL.
  struct Signal {
    double drop = 0, agreement = 0, kl = 0;
  };
  auto signal_of = [&](Model::Impl& mi) {
    Signal r;
    torch::NoGradGuard g;
    torch::Tensor lg = logits_of(mi, dec.X);
    torch::Tensor logp = torch::log_softmax(lg, 1);
    torch::Tensor pred = lg.argmax(1);
    r.drop = paired_drop_points(dec.ref, flag_bytes(pred.eq(dec.Y)), spent_pp);
    r.agreement = pred.eq(dec.ref_pred).to(torch::kFloat64).mean().item<double>();
    r.kl = (dec.ref_logp.exp() * (dec.ref_logp - logp)).sum(1).mean().item<double>();
    return r;
  };
  // Pruning scores: |w|, times the input feature's rms when activation scores are on.
  std::map<std::string, torch::Tensor> scales;
  auto refresh_scales = [&] {
    scales.clear();
    if (o.activation_scores) scales = input_scales(m, X, names);
    if (o.gradient_scores) {
      for (auto& [name, r] : output_scales(m, X, Y, names)) {
        auto it = scales.find(name);
        if (it == scales.end()) scales[name] = r;
        else it->second = it->second * r;
      }
    }
  };
  auto score = [&](const std::string& name) {
    torch::Tensor a = m.param(name).detach().abs();
    auto it = scales.find(name);
    return it == scales.end() ? a : a * it->second;
  };
  refresh_scales();

  // The surviving entries of a tensor (its mask, or its nonzeros, NaN
  // included, when it has none yet), and the narrowing of its mask by `keep`
  // (broadcast against it), applied to the weights.
  auto survivors = [](Model::Impl& mi, const std::string& name) {
    return mi.masks.count(name) ? mi.masks[name] : mi.param(name).ne(0);
  };
  auto restrict_mask = [survivors](Model::Impl& mi, const std::string& name, const torch::Tensor& keep) {
    torch::Tensor& w = mi.param(name);
    mi.masks[name] = survivors(mi, name).logical_and(keep.expand_as(w));
    w.mul_(mi.masks[name].to(torch::kFloat32));
  };
  auto live_units = [survivors](Model::Impl& mi, const UnitPair& P) {
    return survivors(mi, P.in).any(1).logical_and(survivors(mi, P.out).any(0));
  };
  // Units whose output reaches nothing (their outgoing column is pruned):
  // their incoming row and bias can go without changing the function. (A
  // unit whose row died but whose column lives is a constant, a bias of the
  // next layer: it stays.)
  auto clear_unreached = [survivors, restrict_mask](Model::Impl& mi, const UnitPair& P) {
    torch::NoGradGuard g;
    torch::Tensor reach = survivors(mi, P.out).any(0);
    restrict_mask(mi, P.in, reach.view({-1, 1}));
    if (mi.has_param(P.bias)) mi.param(P.bias).mul_(reach.to(torch::kFloat32));
  };
  // Keeps the `target` live units of highest score (the norm of the unit's
  // outgoing weight scores: what it moves downstream on real data) and cuts
  // the outgoing column of every other unit, then its row and bias.
  auto cut_units = [&](UnitPair& P, int64_t target) {
    torch::Tensor live = live_units(m, P);
    if (live.sum().item<int64_t>() > target) {
      torch::NoGradGuard g;
      restrict_mask(m, P.out, top_mask(score(P.out).square().sum(0).sqrt(), &live, target).view({1, -1}));
    }
    clear_unreached(m, P);
  };
  auto live_count = [&](Model::Impl& mi, const UnitPair& P) { return live_units(mi, P).sum().item<int64_t>(); };

  std::vector<Layerwise> lw;
  int64_t total = 0;
  for (const auto& name : names) {
    Layerwise L;
    L.name = name;
    L.numel = m.param(name).numel();
    L.current = static_cast<double>(m.masks.count(name) ? m.masks[name].sum().item<int64_t>()
                                                        : m.param(name).ne(0).sum().item<int64_t>()) /
                static_cast<double>(L.numel);
    total += L.numel;
    lw.push_back(std::move(L));
  }

  // Allocation of an overall target density over the tensors; nested (the
  // densities never rise as the target falls) and capped at the current ones.
  std::function<std::vector<double>(double)> allocate;
  if (lw.size() == 1) {
    // One tensor: every allocation gives it the target itself (and the
    // sensitivity scan would cost a sort and an evaluation per grid point
    // for nothing: minutes on AlexNet's fc6).
    allocate = [&lw](double target) { return std::vector<double>{std::min(lw[0].current, target)}; };
  } else if (o.allocation == "erk") {
    // Erdos-Renyi-Kernel (Evci et al., RigL): density proportional to
    // sum(shape) / prod(shape), so large layers are pruned hardest (fc1 of
    // LeNet-300-100 ~2.3%, fc2 ~7%, fc3 ~55% at 3% overall).
    std::vector<double> erk;
    for (const auto& name : names) {
      double sum = 0, prod = 1;
      for (int64_t s : m.param(name).sizes()) {
        sum += static_cast<double>(s);
        prod *= static_cast<double>(s);
      }
      erk.push_back(std::pow(sum / prod, o.erk_power));
    }
    allocate = [&lw, erk, total](double target) {
      auto at = [&](double eps) {
        std::vector<double> d(lw.size());
        double kept = 0;
        for (size_t i = 0; i < lw.size(); ++i) {
          d[i] = std::min(lw[i].current, eps * erk[i]);
          kept += d[i] * static_cast<double>(lw[i].numel);
        }
        return std::make_pair(d, kept / static_cast<double>(total));
      };
      double lo = 0, hi = 1;
      while (at(hi).second < target && hi < 1e12) hi *= 2;
      for (int it = 0; it < 100; ++it) {
        double mid = 0.5 * (lo + hi);
        (at(mid).second < target ? lo : hi) = mid;
      }
      return at(hi).first;
    };
  } else if (o.allocation == "global") {
    // One threshold on the scores of every tensor: the `target x total`
    // highest-scoring survivors are kept, wherever they are. Meaningful when
    // the scores are comparable across tensors (the Fisher score).
    allocate = [&](double target) {
      torch::NoGradGuard g;
      std::vector<torch::Tensor> alive;
      for (const auto& L : lw) {
        torch::Tensor s = score(L.name).flatten();
        if (m.masks.count(L.name)) s = s.masked_select(m.masks[L.name].flatten());
        alive.push_back(s);
      }
      torch::Tensor all = torch::cat(alive);
      const int64_t keep = std::max<int64_t>(1, std::min<int64_t>(all.numel(), std::llround(target * static_cast<double>(total))));
      const float threshold = std::get<0>(all.topk(keep, 0, true, true))[keep - 1].item<float>();
      std::vector<double> d(lw.size());
      for (size_t i = 0; i < lw.size(); ++i)
        d[i] = static_cast<double>(alive[i].ge(threshold).sum().item<int64_t>()) / static_cast<double>(lw[i].numel);
      return d;
    };
  } else {
    // Sensitivity scan: each tensor pruned alone, no retraining, densities
    // 70%, then x0.85 down to 0.2%; the rise of the val cross-entropy (not
    // top-1, which saturates once a layer is broken), made monotone.
    std::vector<double> base_grid;
    for (double d = 0.7; d >= 0.002; d *= 0.85) base_grid.push_back(d);
    for (auto& L : lw) {
      double worst = 0;
      // The scores ranked once; each grid point keeps a prefix of the ranking.
      const torch::Tensor* old = m.masks.count(L.name) ? &m.masks[L.name] : nullptr;
      const torch::Tensor ranking = score_ranking(score(L.name), old);
      for (double d : base_grid) {
        if (d >= L.current * 0.999) continue;
        torch::Tensor mk = ranked_mask(ranking, m.param(L.name).sizes(), std::llround(d * static_cast<double>(L.numel)));
        torch::Tensor w = m.param(L.name).detach() * mk.to(torch::kFloat32);
        std::vector<float> values(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
        double loss = ref_eval.evaluate(Split::val, {{L.name, values}}).mean_loss() - ref_val_loss;
        worst = std::max(worst, loss);
        L.grid.push_back(d);
        L.loss.push_back(worst);
      }
      std::string line = "sensitivity (val cross-entropy rise) " + L.name + ":";
      for (size_t i = 0; i < L.grid.size(); ++i) line += " " + fmt(100 * L.grid[i], 1) + "%:" + fmt(L.loss[i], 3);
      log(line);
    }
    // Greedy: repeatedly lower the tensor whose next grid point costs the
    // least per weight removed (additive loss model, as DeepSZ's knapsack).
    allocate = [&lw, total](double target) {
      std::vector<int> pos(lw.size(), -1);  // -1: current density
      auto density_of = [&](size_t i) { return pos[i] < 0 ? lw[i].current : lw[i].grid[static_cast<size_t>(pos[i])]; };
      auto loss_of = [&](size_t i) { return pos[i] < 0 ? 0.0 : lw[i].loss[static_cast<size_t>(pos[i])]; };
      auto overall = [&] {
        double kept = 0;
        for (size_t i = 0; i < lw.size(); ++i) kept += density_of(i) * static_cast<double>(lw[i].numel);
        return kept / static_cast<double>(total);
      };
      while (overall() > target * 1.0001) {
        int best = -1;
        double best_cost = 0;
        for (size_t i = 0; i < lw.size(); ++i) {
          if (pos[i] + 1 >= static_cast<int>(lw[i].grid.size())) continue;
          double removed = (density_of(i) - lw[i].grid[static_cast<size_t>(pos[i] + 1)]) * static_cast<double>(lw[i].numel);
          double cost = (lw[i].loss[static_cast<size_t>(pos[i] + 1)] - loss_of(i) + 1e-5) / removed;
          if (best < 0 || cost < best_cost) {
            best = static_cast<int>(i);
            best_cost = cost;
          }
        }
        if (best < 0) break;
        ++pos[static_cast<size_t>(best)];
      }
      std::vector<double> d(lw.size());
      for (size_t i = 0; i < lw.size(); ++i) d[i] = density_of(i);
      return d;
    };
  }

  // Iterative schedule: each step's overall target is `step_factor` x the
  // current density (not a precomputed list: with the per-step cut limit the
  // density lags such a list, and the allocation then over-pruned the small
  // layers), down to `--density`, or to 0.2% with `--max-loss`.
  const double floor_density = by_loss ? 0.002 : o.density;
  constexpr size_t kMaxSteps = 60;

  auto density_now = [&](size_t i) {
    return m.masks.count(lw[i].name) ? m.masks[lw[i].name].sum().item<double>() / static_cast<double>(lw[i].numel)
                                     : lw[i].current;
  };
  auto overall_density_now = [&] {
    double kept = 0;
    for (size_t i = 0; i < lw.size(); ++i) kept += density_now(i) * static_cast<double>(lw[i].numel);
    return kept / static_cast<double>(total);
  };
  auto overall_density = [&](const Model& mm) {
    int64_t kept = 0;
    for (const auto& L : lw) kept += mm.impl().masks.at(L.name).sum().item<int64_t>();
    return static_cast<double>(kept) / static_cast<double>(total);
  };
  Model best = model;  // the sparsest accepted state (max-loss mode)
  bool have_best = false;
  double best_stat = 0;
  int failures = 0;
  // Every step's statistic, in order of falling density, and the states
  // whose own statistic was within the acceptance bound.
  std::vector<double> stats;
  // Every step as "density:drop:reserve:accepted" (meta::prune_steps).
  std::string trajectory;
  std::vector<std::pair<size_t, Model>> candidates;
  std::vector<Model> alternatives;
  uint64_t step_seed = o.seed;
  for (size_t k = 0; k < kMaxSteps; ++k) {
    const double now_overall = overall_density_now();
    if (now_overall <= floor_density * 1.01) break;
    refresh_scales();
    // Coarse steps far from the frontier, finer ones where it usually lies.
    const double factor = now_overall > o.fine_below ? o.step_factor : std::max(o.step_factor, o.fine_step_factor);
    std::vector<double> dens = allocate(std::max(floor_density, factor * now_overall));
    std::vector<double> from(lw.size());
    // No tensor loses more than a quarter of its survivors in one step:
    // large single cuts were the cliffs of the measured runs.
    for (size_t i = 0; i < lw.size(); ++i) {
      from[i] = density_now(i);
      dens[i] = std::max(dens[i], 0.75 * from[i]);
    }
    // Hidden units follow the square root of their layer's density target
    // (so the rows and the density within a live row shrink alike), never
    // more than a quarter of them in one step, down to o.units of the layer.
    // (Cut at the pace of the density itself, 25% of the units a step,
    // LeNet-5 read 0.30-0.50 points at 42% and 31%, where unstructured
    // pruning reads about 0.)
    for (UnitPair& P : pairs) {
      const size_t i = static_cast<size_t>(
          std::find_if(lw.begin(), lw.end(), [&](const Layerwise& L) { return L.name == P.in; }) - lw.begin());
      const double units = static_cast<double>(P.units);
      P.from = live_count(m, P);
      P.to = std::min<int64_t>(P.from, std::max({std::llround(o.units * units), std::llround(std::sqrt(dens[i]) * units),
                                                  std::llround(0.75 * static_cast<double>(P.from))}));
    }
    // Gradual pruning within the step (Zhu & Gupta's cubic schedule): from
    // the step's start to its target in kIncrements cuts spread over the
    // first epoch, each by score among the survivors.
    constexpr int kIncrements = 10;
    int applied = 0;
    auto cut = [&](int increment) {
      double f = 1.0 - std::pow(1.0 - static_cast<double>(increment) / kIncrements, 3.0);
      for (UnitPair& P : pairs)
        cut_units(P, std::llround(static_cast<double>(P.from) + static_cast<double>(P.to - P.from) * f));
      for (size_t i = 0; i < lw.size(); ++i) {
        const std::string& name = lw[i].name;
        double d = from[i] + (dens[i] - from[i]) * f;
        const torch::Tensor* old = m.masks.count(name) ? &m.masks[name] : nullptr;
        torch::NoGradGuard g;
        m.masks[name] = top_mask(score(name), old, std::llround(d * static_cast<double>(lw[i].numel)));
        m.param(name).mul_(m.masks[name].to(torch::kFloat32));
      }
      // An outgoing column the cut just emptied: its unit's row goes too.
      for (const UnitPair& P : pairs) clear_unreached(m, P);
    };
    cut(++applied);
    const int64_t batches_per_epoch = (X.size(0) + o.batch_size - 1) / o.batch_size;
    auto update = [&](int64_t step, int64_t) {
      if (applied >= kIncrements) return false;
      if (step < applied * batches_per_epoch / kIncrements) return false;
      cut(++applied);
      return true;
    };
    // Two readings of the paired val drop: after the last two retraining epochs.
    std::vector<double> readings;
    std::vector<Signal> signals;  // of the decision images, at the same readings
    double sel_noise = 0;         // the latest selection reading's own noise (the check of decide_on_training)
    const int epochs = std::max(1, o.step_epochs);
    auto read = [&](int e) {
      if (by_loss && e + 2 > epochs) {
        Evaluator ev(model, data);
        const std::vector<uint8_t> c = ev.correct(Split::val);
        readings.push_back(drop_points(c));
        if (decide_on_training) sel_noise = selection_noise(c);
        if (dec.X.defined()) signals.push_back(signal_of(m));
      }
    };
    try {
      run_epochs(m, X, Y, epochs, o.learning_rate, o.batch_size, ++step_seed, o.progress, read, update,
                 o.weight_decay, &distill, nullptr, &augment);
      while (applied < kIncrements) cut(++applied);  // one-epoch steps: finish the cut
    } catch (const c10::Error& e) {
      throw_from_torch(e, "retraining failed");
    }
    std::string line = "step " + std::to_string(k + 1) + ": density " +
                       fmt(100 * overall_density(model), 2) + "% (";
    for (size_t i = 0; i < lw.size(); ++i) line += (i ? " " : "") + lw[i].name + " " + fmt(100 * density_now(i), 2) + "%";
    for (const UnitPair& P : pairs)
      line += ", " + P.in + " units " + std::to_string(live_count(m, P)) + "/" + std::to_string(P.units);
    line += ")";
    if (!by_loss) {
      log(line);
      continue;
    }
    // The step's statistic: the mean of its readings on the selection split,
    // or, deciding on the decision images, of theirs (plus the same
    // reserve), the selection reading then only checking it.
    auto mean_reading = [&] {
      return std::accumulate(readings.begin(), readings.end(), 0.0) / static_cast<double>(readings.size());
    };
    auto statistic = [&] {
      if (!decide_on_training) return mean_reading();
      double d = 0;
      for (const Signal& sg : signals) d += sg.drop;
      return d / static_cast<double>(signals.size()) + last_reserve;
    };
    auto accepted = [&](double st) { return passes(st, mean_reading(), sel_noise); };
    double stat = statistic();
    bool ok = accepted(stat);
    if (!ok && stat <= o.max_loss + 2.0) {
      // Not yet recovered? One more retraining round at half the rate, new readings.
      line += ", val drop " + fmt(mean_reading(), 2) + " points: retraining again";
      log(line);
      readings.clear();
      signals.clear();
      try {
        run_epochs(m, X, Y, epochs, o.learning_rate * 0.5, o.batch_size, ++step_seed, o.progress, read, nullptr,
                   o.weight_decay, &distill, nullptr, &augment);
      } catch (const c10::Error& e) {
        throw_from_torch(e, "retraining failed");
      }
      stat = statistic();
      ok = accepted(stat);
      line = "step " + std::to_string(k + 1) + " again";
    }
    line += ", val drop " + fmt(mean_reading(), 2) + " points (readings";
    for (double r : readings) line += " " + fmt(r, 2);
    line += reserve_note() + ")";
    if (!signals.empty()) {
      const Signal& sg = signals.back();
      line += ", decision images: drop " + fmt(sg.drop, 2) + " points, agreement " + fmt(100 * sg.agreement, 2) +
              "%, KL " + fmt(sg.kl, 4);
      if (decide_on_training) line += ", statistic " + fmt(stat, 2) + " (selection check <= " + fmt(accept + sel_noise, 2) + ")";
    }
    if (o.trace_held_out) {
      // Reported only: never a decision (a study of the selection bias).
      Evaluator ev(model, data);
      line += ", held out (reported only):";
      if (data.certified()) line += " cert drop " + fmt(paired_drop_points(ref_cert, ev.correct(Split::cert), 0), 2);
      line += " test drop " + fmt(paired_drop_points(ref_test, ev.correct(Split::test), 0), 2);
    }
    line += std::string(ok ? " accepted" : " over budget");
    log(line);
    stats.push_back(stat);
    {
      char rec[64];
      std::snprintf(rec, sizeof rec, "%s%.5g:%.4g:%.4g:%d", trajectory.empty() ? "" : ";", overall_density(model),
                    mean_reading() - last_reserve, last_reserve, ok ? 1 : 0);  // the selection reading, whatever decided
      trajectory += rec;
    }
    if (ok) {
      candidates.emplace_back(stats.size() - 1, model);
      failures = 0;
    } else if (++failures >= 3 || stat > o.max_loss + 2.0) {
      break;
    }
  }
  if (by_loss) {
    // Smoothing over the density curve: the loss rises with sparsity on
    // average, so fit a non-decreasing curve to the step statistics (least
    // squares, pool-adjacent-violators) and take the sparsest state whose own
    // statistic and fitted value are both within the acceptance bound. A lone
    // lucky reading beyond failures is pooled with them and rejected.
    const std::vector<double> smooth = isotonic_non_decreasing(stats);
    for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
      if (smooth[it->first] <= accept + 1e-9) {
        best = it->second;
        best_stat = stats[it->first];
        have_best = true;
        log("chosen: step " + std::to_string(it->first + 1) + ", val drop " + fmt(best_stat, 2) +
            " points, smoothed " + fmt(smooth[it->first], 2));
        // Denser accepted states (their smoothed values are no higher).
        size_t back = 0, next_take = 1;
        for (auto alt = std::next(it); alt != candidates.rend() && static_cast<int>(alternatives.size()) < o.alternatives; ++alt) {
          if (++back != next_take) continue;
          alternatives.push_back(std::move(alt->second));
          next_take = o.spread_alternatives ? 2 * next_take : next_take + 1;
        }
        // Spread and too few states: the densest accepted one closes the list.
        if (o.spread_alternatives && static_cast<int>(alternatives.size()) < o.alternatives && back > 0 &&
            back != next_take / 2)
          alternatives.push_back(std::move(candidates.front().second));
        break;
      }
      log("step " + std::to_string(it->first + 1) + " rejected: smoothed val drop " + fmt(smooth[it->first], 2) +
          " points");
    }
    candidates.clear();
  }

  if (by_loss) {
    if (!have_best) {
      log("no pruned state met the budget: the input is returned unchanged");
      best = input;
    } else if (o.final_epochs > 0) {
      // Fine-tune the chosen masks at half the rate and read once at the end
      // (no choice among epochs: that would select a lucky reading); keep the
      // result if that reading is within the acceptance bound.
      Model tuned = best;
      try {
        run_epochs(tuned.impl(), X, Y, o.final_epochs, o.learning_rate * 0.5, o.batch_size, ++step_seed, o.progress,
                   nullptr, nullptr, o.weight_decay, &distill, nullptr, &augment);
      } catch (const c10::Error& e) {
        throw_from_torch(e, "fine-tuning failed");
      }
      Evaluator ev(tuned, data);
      const std::vector<uint8_t> c = ev.correct(Split::val);
      const double d = drop_points(c);
      // The steps' rule (deciding on the training images: their drop plus the
      // same reserve, the selection reading within its own noise).
      const double st = decide_on_training ? signal_of(tuned.impl()).drop + last_reserve : d;
      const bool keep = passes(st, d, decide_on_training ? selection_noise(c) : 0.0);
      const std::string how = decide_on_training ? ", decision statistic " + fmt(st, 2) : std::string();
      log("fine-tuned: val drop " + fmt(d, 2) + " points" + reserve_note() + how + " (accepted state " +
          fmt(best_stat, 2) + "): " + (keep ? "kept" : "discarded"));
      if (keep) best = tuned;
    }
  } else {
    best = model;
    if (o.final_epochs > 0) {
      try {
        run_epochs(m, X, Y, o.final_epochs, o.learning_rate * 0.5, o.batch_size, ++step_seed, o.progress, nullptr,
                   nullptr, o.weight_decay, &distill, nullptr, &augment);
      } catch (const c10::Error& e) {
        throw_from_torch(e, "fine-tuning failed");
      }
      best = model;
    }
  }

  // Record masks, ancestry and accuracies.
  auto record = [&](Model& out) {
    // Retraining after a unit died moved its bias (Adam's momentum); it
    // reaches nothing, so zero it again for the coder.
    for (const UnitPair& P : pairs) clear_unreached(out.impl(), P);
    Evaluator ev(out, data);
    const double val = ev.evaluate(Split::val).top1_rate();
    const double test = ev.evaluate(Split::test).top1_rate();
    if (input.metadata(meta::dense_val_top1).empty()) {
      out.set_metadata(meta::dense_val_top1, fraction_string(ref_val_top1));
      out.set_metadata(meta::dense_test_top1, fraction_string(ref_test_top1));
      if (!dense_cert.empty()) out.set_metadata(meta::dense_cert_correct, dense_cert);
    }
    out.set_metadata(meta::val_top1, fraction_string(val));
    out.set_metadata(meta::test_top1, fraction_string(test));
    out.set_metadata(meta::val_images, std::to_string(data.val.size()));
    out.set_metadata(meta::data_split, data.split_record());
    if (by_loss) out.set_metadata(meta::prune_max_loss, fraction_string(o.max_loss));
    else out.set_metadata(meta::prune_density, fraction_string(o.density));
    if (!trajectory.empty()) out.set_metadata(meta::prune_steps, trajectory);
    return std::make_pair(val, test);
  };
  const auto [val_top1, test_top1] = record(best);
  for (Model& alt : alternatives) record(alt);
  if (report) {
    report->alternatives = std::move(alternatives);
    report->layers.clear();
    int64_t kept_all = 0;
    for (const auto& L : lw) {
      PrunedLayer pl;
      pl.name = L.name;
      pl.params = L.numel;
      pl.kept = best.has_mask(L.name) ? best.impl().masks.at(L.name).sum().item<int64_t>() : best.nonzeros(L.name);
      kept_all += pl.kept;
      for (const UnitPair& P : pairs)
        if (P.in == L.name) {
          pl.units = P.units;
          pl.live_units = live_count(best.impl(), P);
        }
      report->layers.push_back(pl);
    }
    report->density = static_cast<double>(kept_all) / static_cast<double>(total);
    report->input_val_top1 = ref_val_top1;
    report->input_test_top1 = ref_test_top1;
    report->val_top1 = val_top1;
    report->test_top1 = test_top1;
    report->seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  }
  return best;
}


}  // namespace deepsz::model
