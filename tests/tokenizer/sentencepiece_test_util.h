// Test helpers: write SentencePiece ModelProto bytes and darts-clone
// charsmaps by hand, so unit tests need no model files.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace keel::tokenizer::spm_test {

// Protobuf wire-format writer.
struct ProtoWriter {
  std::string out;
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  }
  void key(uint32_t field, uint32_t wire) { varint((uint64_t{field} << 3) | wire); }
  void field_varint(uint32_t field, uint64_t v) {
    key(field, 0);
    varint(v);
  }
  void field_int32(uint32_t field, int32_t v) {
    field_varint(field, static_cast<uint64_t>(static_cast<int64_t>(v)));
  }
  void field_bytes(uint32_t field, const std::string& b) {
    key(field, 2);
    varint(b.size());
    out += b;
  }
  void field_float(uint32_t field, float f) {
    key(field, 5);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
};

// Piece types as in sentencepiece_model.proto.
enum : int { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct TestPiece {
  std::string piece;
  float score;
  int type;
};

struct TestModel {
  std::vector<TestPiece> pieces;
  int model_type = 1;  // 1 UNIGRAM, 2 BPE
  bool byte_fallback = false;
  int32_t bos_id = 1, eos_id = 2, unk_id = 0, pad_id = -1;
  std::string charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;

  // Adds <0x00>..<0xFF> BYTE pieces and turns byte_fallback on.
  void add_byte_pieces() {
    byte_fallback = true;
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      pieces.push_back({std::string("<0x") + hex[b / 16] + hex[b % 16] + ">", 0, kByte});
    }
  }

  std::string serialize() const {
    ProtoWriter m;
    for (const auto& p : pieces) {
      ProtoWriter w;
      w.field_bytes(1, p.piece);
      w.field_float(2, p.score);
      w.field_varint(3, static_cast<uint64_t>(p.type));
      m.field_bytes(1, w.out);
    }
    ProtoWriter t;
    t.field_varint(3, static_cast<uint64_t>(model_type));
    t.field_varint(35, byte_fallback ? 1 : 0);
    t.field_int32(40, unk_id);
    t.field_int32(41, bos_id);
    t.field_int32(42, eos_id);
    t.field_int32(43, pad_id);
    m.field_bytes(2, t.out);
    ProtoWriter n;
    n.field_bytes(1, charsmap.empty() ? "identity" : "custom");
    if (!charsmap.empty()) n.field_bytes(2, charsmap);
    n.field_varint(3, add_dummy_prefix ? 1 : 0);
    n.field_varint(4, remove_extra_whitespaces ? 1 : 0);
    n.field_varint(5, escape_whitespaces ? 1 : 0);
    m.field_bytes(3, n.out);
    return m.out;
  }
};

// Builds a charsmap blob: <u32 trie bytes><darts-clone units><NUL-terminated
// replacements>, for rules (source bytes → replacement). A naive builder of
// the subset of darts-clone's format that readers use: each node gets a
// unique base whose child slots (base ^ label) are free; the value sits at
// slot base ^ 0 with bit 31 set.
inline std::string build_charsmap(const std::vector<std::pair<std::string, std::string>>& rules) {
  struct Node {
    std::map<uint8_t, int> children;
    int value = -1;
  };
  std::vector<Node> nodes(1);
  std::string strings;
  for (const auto& [src, dst] : rules) {
    int n = 0;
    for (char ch : src) {
      const auto c = static_cast<uint8_t>(ch);
      auto it = nodes[n].children.find(c);
      if (it == nodes[n].children.end()) {
        nodes.emplace_back();
        it = nodes[n].children.emplace(c, static_cast<int>(nodes.size() - 1)).first;
      }
      n = it->second;
    }
    nodes[n].value = static_cast<int>(strings.size());
    strings += dst;
    strings.push_back('\0');
  }
  std::vector<uint32_t> units(1, 0);
  std::vector<bool> used(1, true);
  std::set<uint32_t> bases;
  auto ensure = [&](size_t i) {
    if (i >= units.size()) {
      units.resize(i + 1, 0);
      used.resize(i + 1, false);
    }
  };
  // Place node n (already sitting at slot p) and, recursively, its children.
  auto place = [&](auto&& self, int n, uint32_t p) -> void {
    const Node& node = nodes[static_cast<size_t>(n)];
    if (node.children.empty() && node.value < 0) return;
    uint32_t base = 1;
    for (;; ++base) {
      if (bases.count(base) || (base ^ p) >= (1u << 21)) continue;
      bool ok = !(node.value >= 0 && ((base < used.size() && used[base]) || base == 0));
      for (const auto& [c, child] : node.children) {
        const uint32_t q = base ^ c;
        if (q == 0 || (q < used.size() && used[q])) ok = false;
      }
      if (ok) break;
    }
    bases.insert(base);
    units[p] |= ((base ^ p) << 10) | (node.value >= 0 ? (1u << 8) : 0u);
    if (node.value >= 0) {
      ensure(base);
      used[base] = true;
      units[base] = static_cast<uint32_t>(node.value) | (1u << 31);
    }
    for (const auto& [c, child] : node.children) {
      const uint32_t q = base ^ c;
      ensure(q);
      used[q] = true;
      units[q] = c;
    }
    for (const auto& [c, child] : node.children) self(self, child, base ^ c);
  };
  place(place, 0, 0);
  std::string blob;
  const auto trie_bytes = static_cast<uint32_t>(units.size() * 4);
  for (int i = 0; i < 4; ++i) blob.push_back(static_cast<char>((trie_bytes >> (8 * i)) & 0xFF));
  for (uint32_t u : units) {
    for (int i = 0; i < 4; ++i) blob.push_back(static_cast<char>((u >> (8 * i)) & 0xFF));
  }
  return blob + strings;
}

}  // namespace keel::tokenizer::spm_test
