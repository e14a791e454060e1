// Internal to src/pipeline: the per-tensor plan and the coding choices of
// each method. Exposed to tests/pipeline only.
#pragma once

#include <cstdint>
#include <string>
#include <memory>
#include <vector>

#include "deepsz/pipeline/pipeline.h"

namespace deepsz::pipeline::detail {

struct MethodSettings {
  ValueCodec lossy_codec = ValueCodec::dsz;
  Predictor predictor = Predictor::automatic;
  IndexCoding index_coding = IndexCoding::context;
  bool lossless_dsz = true;  // lossless option = smaller of dsz eb=0 and zstd
};
MethodSettings settings_for(Method m);

// One parameter tensor as an item of the knapsack.
struct TensorPlan {
  model::ParamInfo info;
  std::vector<uint64_t> shape;
  // The parameter's values: a view of the input model's own (which the plan
  // must not outlive), or of `owned` where the model stores them otherwise
  // (shared, so that a copy of the plan views the same buffer).
  struct Values {
    const float* ptr = nullptr;
    size_t n = 0;
    const float* data() const { return ptr; }
    size_t size() const { return n; }
    bool empty() const { return n == 0; }
    const float& operator[](size_t i) const { return ptr[i]; }
    const float* begin() const { return ptr; }
    const float* end() const { return ptr + n; }
  } values;
  std::shared_ptr<const std::vector<float>> owned;
  std::string layer;  // name without ".weight" / ".bias"
  uint64_t nonzeros = 0;
  double density = 1.0;
  double max_abs = 0.0;
  double rms = 0.0;   // of the nonzeros
  bool masked = false;
  bool sparse = false;  // index of nonzeros + values
  bool lossy = false;   // gets lossy candidates
  bool conv_layer = false;  // belongs to a convolution (weight or bias)
  // The step of the lattice the model records for this tensor
  // (meta::lattice_prefix, written by deepsz quantize) when every value was
  // checked to lie on it; 0: none. Bound lattice / 2 rebuilds it as it is.
  double lattice = 0.0;
};

std::vector<TensorPlan> plan_tensors(const model::Model& m, const CompressOptions& o);
// bound 0: the lossless option of the method.
TensorEntry encode_candidate(const TensorPlan& p, double bound, const MethodSettings& s);
// The adaptive search of one tensor's bounds (docs/PIPELINE.md): start,
// growth and number of measurements by the tensor's share of the lossless
// bytes and by its cost (convolutions rerun most of the network).
BoundSearchOptions search_options(const TensorPlan& p, uint64_t lossless_bytes, uint64_t lossless_total,
                                  double budget, size_t images, int max_candidates);
std::string coding_name(const TensorEntry& e);
// An encoded candidate as an evaluation's override: decoded a piece at a
// time as the evaluator reads it (model.h, ParameterValues), never whole.
model::ParameterValues decoded_values(std::shared_ptr<const TensorEntry> e);
// Hands the allocator's free pages back to the system (glibc's malloc_trim):
// called between the steps of compress, whose freed candidates and batches
// would otherwise stay in the process's heap (VGG-16: 65 MB).
void release_free_memory();

// Paired top-1 counts of a candidate against a reference on the same images.
struct Paired {
  uint64_t c2w = 0, w2c = 0, n = 0;
  double drop() const { return n ? 100.0 * (double(c2w) - double(w2c)) / double(n) : 0.0; }
};
Paired compare(const std::vector<uint8_t>& ref, const std::vector<uint8_t>& got);
double parse_fraction(const std::string& s, double fallback);
// What a saved assessment table must match to be reused.
std::string table_identity(const model::Model& m, const CompressOptions& o, uint64_t val_images);
bool table_matches(const AssessmentTable& t, const std::vector<TensorPlan>& plans, const std::string& identity,
                   uint64_t images);
// Step 1: the candidates of every lossy tensor measured on `data`'s
// selection split against `ref` (docs/PIPELINE.md, "Assessment").
AssessmentTable assess(const model::Model& input, const model::Dataset& data, const std::vector<TensorPlan>& plans,
                       const MethodSettings& s, const CompressOptions& o, double budget,
                       const std::vector<uint8_t>& ref, int workers, size_t* measured);
// The split of the assessment over o.collective's ranks (docs/SCALE.md):
// the rank that measures each tensor of `order` (`candidates`: how many
// measurements each may take), by an estimate of its cost; then the shares
// gathered into `table` on every rank. Returns the measurements of all ranks.
std::vector<int> assessment_owners(const std::vector<TensorPlan>& plans, const std::vector<size_t>& order,
                                   const std::vector<size_t>& candidates, uint64_t image_pixels, int ranks);
size_t gather_assessment(Collective& c, AssessmentTable& table, const std::vector<size_t>& order,
                         const std::vector<int>& owners, size_t measured_here);

// The reference of the certification: the dense ancestor's correctness on
// each certification image as the input records it, or the input's own when
// it records no ancestor (it is the dense model).
std::vector<uint8_t> certification_reference(const model::Model& input, model::Evaluator& input_eval,
                                             const model::Dataset& data);
std::string short_number(double v);

}  // namespace deepsz::pipeline::detail

namespace deepsz::pipeline::detail {

// TorchScript and ONNX input: the model file with every parameter zeroed,
// zstd-compressed and base64-encoded, travels as the metadata value of
// kTorchScriptKey or kOnnxKey; the decoder loads it and sets the decoded
// parameters.
inline constexpr const char* kTorchScriptKey = "deepsz.torchscript";
inline constexpr const char* kOnnxKey = "deepsz.onnx";
std::string model_shell(const model::Model& m);  // the metadata value (TorchScript or ONNX)
// The model, zero parameters; refuses a shell of another kind than `kind`.
model::Model model_from_shell(const std::string& value, model::FileKind kind);
std::string base64_encode(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> base64_decode(const std::string& text);    // corruption_detected on bad input

}  // namespace deepsz::pipeline::detail
