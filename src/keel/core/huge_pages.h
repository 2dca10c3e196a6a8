// Memory advised as transparent huge pages, for large tables read at random.
//
// A lookup table of several MiB (a tokenizer's vocabulary and merges) probed
// at random addresses misses the TLB on almost every probe with 4 KiB pages;
// with 2 MiB pages its translations fit the TLB. map_huge() is a hint: where
// THP is off ("never") the memory is ordinary pages and still correct.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace keel {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// `bytes` rounded up to whole huge pages.
inline size_t huge_rounded(size_t bytes) {
  return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
}

// huge_rounded(bytes) of zeroed memory at a 2 MiB-aligned address, advised
// as huge pages (mmap: pages are committed on first touch). Null on failure.
void* map_huge(size_t bytes);
// Releases a map_huge(bytes) region.
void unmap_huge(void* p, size_t bytes);

// A std allocator that puts allocations of at least kMinBytes on huge pages
// (map_huge) and smaller ones on the ordinary heap. Stateless.
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kMinBytes = size_t{1} << 20;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}  // NOLINT: rebinding

  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    if (bytes < kMinBytes) return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
    void* p = map_huge(bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes < kMinBytes) {
      ::operator delete(p, std::align_val_t{alignof(T)});
    } else {
      unmap_huge(p, bytes);
    }
  }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace keel
