// Counts heap allocations by replacing the global operator new/delete.
// Include it in exactly one .cc of a test executable (the replacement
// functions are defined here, and a program may define them only once).
// keel::testing::allocations() is the number of operator new calls so far.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

// GCC cannot see that the replaced new and delete below pair malloc with
// free, and warns at every inlined delete in the including file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace keel::testing {
inline std::atomic<long> g_allocations{0};
inline long allocations() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace keel::testing

void* operator new(std::size_t size) {
  keel::testing::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
