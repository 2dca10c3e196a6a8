// HugePageAllocator: large allocations come from map_huge (2 MiB-aligned,
// zeroed), small ones from the heap; both work in std containers.
#include "keel/core/huge_pages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace keel {
namespace {

TEST(HugePagesTest, MapHugeIsAlignedZeroedAndWritable) {
  const size_t bytes = kHugePageBytes + 12345;  // not a page multiple
  void* p = map_huge(bytes);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHugePageBytes, 0u);
  auto* c = static_cast<unsigned char*>(p);
  EXPECT_EQ(c[0], 0);
  EXPECT_EQ(c[huge_rounded(bytes) - 1], 0);  // the rounded tail is mapped too
  c[bytes - 1] = 7;
  EXPECT_EQ(c[bytes - 1], 7);
  unmap_huge(p, bytes);
  EXPECT_EQ(huge_rounded(1), kHugePageBytes);
  EXPECT_EQ(huge_rounded(kHugePageBytes), kHugePageBytes);
}

TEST(HugePagesTest, AllocatorServesSmallAndLargeVectors) {
  using Big = std::vector<uint64_t, HugePageAllocator<uint64_t>>;
  Big small(16, 3);  // below kMinBytes: ordinary heap
  Big large(HugePageAllocator<uint64_t>::kMinBytes / sizeof(uint64_t) * 3, 5);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large.data()) % kHugePageBytes, 0u);
  large.resize(large.size() * 2, 9);  // grows through a new mapping
  EXPECT_EQ(large.front(), 5u);
  EXPECT_EQ(large.back(), 9u);
  small.swap(large);
  EXPECT_EQ(large.size(), 16u);
  Big copy = small;  // copies allocate through the same allocator
  EXPECT_EQ(copy, small);
}

}  // namespace
}  // namespace keel
