#include "keel/core/huge_pages.h"

#include <sys/mman.h>

namespace keel {

void* map_huge(size_t bytes) {
  const size_t size = huge_rounded(bytes);
  const size_t span = size + kHugePageBytes;  // room to align
  void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (base + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  if (aligned > base) ::munmap(raw, aligned - base);
  const uintptr_t end = base + span;
  if (end > aligned + size) ::munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void unmap_huge(void* p, size_t bytes) {
  if (p != nullptr) ::munmap(p, huge_rounded(bytes));
}

}  // namespace keel
