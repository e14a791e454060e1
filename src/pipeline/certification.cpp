// The reference of compress's certification (docs/PIPELINE.md,
// "Certification"); its candidates are certification_ladder's, in src/optimize.
#include "pipeline_internal.h"

namespace deepsz::pipeline::detail {

std::vector<uint8_t> certification_reference(const model::Model& input, model::Evaluator& input_eval,
                                             const model::Dataset& data) {
  const bool has_ancestor = !input.metadata(model::meta::dense_val_top1).empty();
  if (!has_ancestor) return input_eval.correct(model::Split::cert);
  const std::string rec = input.metadata(model::meta::dense_cert_correct);
  if (rec.empty())
    throw Error(ErrorCode::invalid_argument,
                "the input records a dense ancestor but not its certification reference (pruned by an older "
                "deepsz?): prune it again, or pass --cert 0 (uncertified)");
  std::vector<uint8_t> flags = model::decode_flags(rec);
  if (static_cast<int64_t>(flags.size()) != data.cert.size())
    throw Error(ErrorCode::corruption_detected, "the input's certification reference holds " +
                                                    std::to_string(flags.size()) + " images, the split " +
                                                    std::to_string(data.cert.size()));
  return flags;
}

}  // namespace deepsz::pipeline::detail
