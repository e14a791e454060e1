// scratch_buffer.h: a reusable work buffer of the float codec's workers.
#pragma once

#include <cstddef>
#include <memory>

namespace deepsz::codec_detail {

// A reusable work buffer that is never zero-filled: get(n) keeps the old
// storage when it is large enough, so a worker pays for allocation (and page
// faults) once, not per chunk.
template <class T>
class ScratchBuffer {
 public:
  T* get(size_t n) {
    if (n > capacity_) {
      data_.reset(new T[n]);
      capacity_ = n;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<T[]> data_;
  size_t capacity_ = 0;
};

}  // namespace deepsz::codec_detail
