#include "keel/tokenizer/models/bpe_merge.h"

#include <algorithm>
#include <cstring>

namespace keel::tokenizer::models_internal {
namespace {

constexpr uint32_t kNoRank = UINT32_MAX;

// Heap order: lowest rank first, then lowest position (std heaps are max-heaps).
bool lower_priority(const MergeScratch::Candidate& a, const MergeScratch::Candidate& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
}

}  // namespace

template <bool kLens>
void ScanWord<kLens>::start(const PairMap& merges) {
  lo = 0;
  hi = n - 1;
  // The table is large and the lookups independent: load all slots at once.
  for (size_t i = lo; i < hi; ++i) merges.prefetch(id[i], id[i + 1]);
}

template <bool kLens>
bool ScanWord<kLens>::step(const PairMap& merges) {
  for (size_t i = lo; i < hi; ++i) {
    const MergeInfo* m = merges.find(id[i], id[i + 1]);
    rank[i] = m ? m->rank : kNoRank;
    merged[i] = m ? m->merged_id : 0;
  }
  lo = hi = 0;
  if (n < 2) return false;
  size_t best = 0;
  for (size_t i = 1; i + 1 < n; ++i) {
    if (rank[i] < rank[best]) best = i;
  }
  if (rank[best] == kNoRank) return false;
  id[best] = merged[best];
  // Drop symbol best+1 and pair entry best (looked up again next step).
  // Tails are a few entries (words are short): one inlined loop beats three
  // memmove calls, which were ~5 % of encode time.
  if constexpr (kLens) lens[best] += lens[best + 1];
  for (size_t j = best + 1; j + 1 < n; ++j) {
    id[j] = id[j + 1];
    rank[j - 1] = rank[j];
    merged[j - 1] = merged[j];
    if constexpr (kLens) lens[j] = lens[j + 1];
  }
  --n;
  lo = best > 0 ? best - 1 : 0;
  hi = best + 1 < n ? best + 1 : best;
  for (size_t i = lo; i < hi; ++i) merges.prefetch(id[i], id[i + 1]);
  return true;
}

template struct ScanWord<false>;
template struct ScanWord<true>;

template <bool kLens>
void apply_merges_scan(const PairMap& merges, std::vector<uint32_t>& ids,
                       std::vector<uint32_t>* lens, MergeScratch& scratch) {
  if (ids.size() < 2) return;
  scratch.ranks.resize(ids.size());
  scratch.merged.resize(ids.size());
  ScanWord<kLens> w{ids.data(), scratch.ranks.data(), scratch.merged.data(),
                    kLens ? lens->data() : nullptr, ids.size()};
  w.start(merges);
  while (w.step(merges)) {
  }
  ids.resize(w.n);
  if constexpr (kLens) lens->resize(w.n);
}

void MergeBatch::add(const PairMap& merges, const std::vector<uint32_t>& ids) {
  Storage& st = storage_[count_];
  std::copy(ids.begin(), ids.end(), st.id);
  ScanWord<false>& w = words_[count_++];
  w = ScanWord<false>{st.id, st.rank, st.merged, nullptr, ids.size()};
  w.start(merges);
}

void MergeBatch::run(const PairMap& merges) {
  // Round-robin over the words still merging; a finished word is swapped
  // out of the active list.
  size_t active[kMaxWords];
  size_t num_active = count_;
  for (size_t w = 0; w < count_; ++w) active[w] = w;
  while (num_active > 0) {
    for (size_t k = 0; k < num_active;) {
      if (words_[active[k]].step(merges)) {
        ++k;
      } else {
        active[k] = active[--num_active];
      }
    }
  }
}

template <bool kLens>
void apply_merges_heap(const PairMap& merges, std::vector<uint32_t>& ids,
                       std::vector<uint32_t>* lens, MergeScratch& scratch) {
  const size_t n = ids.size();
  if (n < 2) return;
  auto& sym = scratch.symbols;
  auto& heap = scratch.heap;
  sym.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i) {
    sym[i] = MergeScratch::Symbol{ids[i], static_cast<int32_t>(i) - 1,
                                  i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
  }
  auto push = [&](size_t left, size_t right) {
    if (const MergeInfo* m = merges.find(sym[left].id, sym[right].id)) {
      heap.push_back({m->rank, static_cast<uint32_t>(left), m->merged_id});
      std::push_heap(heap.begin(), heap.end(), lower_priority);
    }
  };
  if constexpr (kLens) scratch.sym_lens.assign(lens->begin(), lens->end());
  for (size_t i = 0; i + 1 < n; ++i) merges.prefetch(sym[i].id, sym[i + 1].id);
  for (size_t i = 0; i + 1 < n; ++i) push(i, i + 1);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower_priority);
    const MergeScratch::Candidate top = heap.back();
    heap.pop_back();
    MergeScratch::Symbol& left = sym[top.pos];
    if (!left.alive || left.next < 0) continue;
    const MergeScratch::Symbol right = sym[static_cast<size_t>(left.next)];
    // A stale entry: the pair at this position changed since it was queued.
    const MergeInfo* m = merges.find(left.id, right.id);
    if (m == nullptr || m->merged_id != top.merged) continue;
    sym[static_cast<size_t>(left.next)].alive = false;
    if constexpr (kLens) {
      scratch.sym_lens[top.pos] += scratch.sym_lens[static_cast<size_t>(left.next)];
    }
    left.id = top.merged;
    left.next = right.next;
    if (right.next >= 0) sym[static_cast<size_t>(right.next)].prev = static_cast<int32_t>(top.pos);
    if (left.prev >= 0) push(static_cast<size_t>(left.prev), top.pos);
    if (left.next >= 0) push(top.pos, static_cast<size_t>(left.next));
  }
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!sym[i].alive) continue;
    if constexpr (kLens) (*lens)[out] = scratch.sym_lens[i];
    ids[out++] = sym[i].id;
  }
  ids.resize(out);
  if constexpr (kLens) lens->resize(out);
}

template void apply_merges_scan<false>(const PairMap&, std::vector<uint32_t>&,
                                       std::vector<uint32_t>*, MergeScratch&);
template void apply_merges_scan<true>(const PairMap&, std::vector<uint32_t>&,
                                      std::vector<uint32_t>*, MergeScratch&);
template void apply_merges_heap<false>(const PairMap&, std::vector<uint32_t>&,
                                       std::vector<uint32_t>*, MergeScratch&);
template void apply_merges_heap<true>(const PairMap&, std::vector<uint32_t>&,
                                      std::vector<uint32_t>*, MergeScratch&);

}  // namespace keel::tokenizer::models_internal
