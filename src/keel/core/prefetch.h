// prefetch(): start loading the cache line at `p` (a hint; never faults).
//
// Why not __builtin_prefetch: GCC 12 deletes it when it sits in a small
// member function whose only effect it is (interprocedural analysis treats
// the function as side-effect free and drops the inlined call), which is
// exactly how the tokenizer's tables wrap it: their prefetch() compiled to
// nothing. An asm volatile statement cannot be removed.
#pragma once

namespace keel {

inline void prefetch(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

}  // namespace keel
