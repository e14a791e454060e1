// The parts of the _deepsz module, one registration function each.
#pragma once

#include <pybind11/pybind11.h>

namespace deepsz::python {

// Bounds search, knapsack, guarantee loop and certification statistics
// (include/deepsz/optimize.h), on assessment tables given as JSON text.
void bind_optimize(pybind11::module_& m);

}  // namespace deepsz::python
