// SafetensorsModel: one model.safetensors or the shards of
// model.safetensors.index.json.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "keel/core/json_depth.h"
#include "keel/model/safetensors.h"

namespace keel::model {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSingleFile = "model.safetensors";
constexpr std::string_view kIndexFile = "model.safetensors.index.json";

// weight_map of an index file: tensor -> shard file name.
Result<std::map<std::string, std::string>> read_weight_map(const fs::path& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) return UnavailableError("cannot read {}", index_path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (const Status deep = check_json_depth(text, index_path.string()); !deep.ok()) {
    return DataLossError("{}", deep.message());
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return DataLossError("{} is not JSON ({})", index_path.string(), e.what());
  }
  auto wm = j.is_object() ? j.find("weight_map") : j.end();
  if (!j.is_object() || wm == j.end() || !wm->is_object()) {
    return DataLossError("{} has no \"weight_map\" object (tensor name -> shard file)",
                         index_path.string());
  }
  std::map<std::string, std::string> out;
  for (const auto& [tensor, shard] : wm->items()) {
    if (!shard.is_string()) {
      return DataLossError("{}: weight_map entry for \"{}\" is not a file name",
                           index_path.string(), tensor);
    }
    const auto& name = shard.get_ref<const std::string&>();
    // A shard must sit beside the index: no folders, no way out of it.
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return DataLossError("{}: weight_map puts \"{}\" in \"{}\", which is not a file name in "
                           "the model folder", index_path.string(), tensor, name);
    }
    out.emplace(tensor, name);
  }
  return out;
}

}  // namespace

Result<SafetensorsModel> SafetensorsModel::open(const std::string& path) {
  SafetensorsModel model;
  std::error_code ec;
  fs::path p(path);
  if (!fs::exists(p, ec)) return NotFoundError("model path {} does not exist", path);

  if (!fs::is_directory(p, ec)) {
    KEEL_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::open(path));
    model.files_.push_back(std::move(f));
  } else if (fs::exists(p / kIndexFile, ec)) {
    fs::path index_path = p / kIndexFile;
    KEEL_ASSIGN_OR_RETURN(auto weight_map, read_weight_map(index_path));
    if (weight_map.empty()) {
      return DataLossError("{} lists no tensors in its weight_map", index_path.string());
    }
    std::map<std::string, size_t> shard_index;  // shard name -> files_ index
    for (const auto& [tensor, shard] : weight_map) {
      if (shard_index.count(shard)) continue;
      fs::path shard_path = p / shard;
      if (!fs::exists(shard_path, ec)) {
        return NotFoundError("shard {} (listed in {} for tensor \"{}\") is missing from {}; "
                             "download the whole model", shard, kIndexFile, tensor, path);
      }
      KEEL_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::open(shard_path.string()));
      shard_index.emplace(shard, model.files_.size());
      model.files_.push_back(std::move(f));
    }
    for (const auto& [tensor, shard] : weight_map) {
      const SafetensorsFile& f = model.files_[shard_index.at(shard)];
      if (!f.contains(tensor)) {
        return DataLossError("{} puts tensor \"{}\" in {}, which does not contain it",
                             index_path.string(), tensor, shard);
      }
    }
  } else if (fs::exists(p / kSingleFile, ec)) {
    KEEL_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::open((p / kSingleFile).string()));
    model.files_.push_back(std::move(f));
  } else {
    return NotFoundError("{} has neither {} nor {}; is it a Hugging Face model folder?", path,
                         kSingleFile, kIndexFile);
  }

  for (size_t i = 0; i < model.files_.size(); ++i) {
    for (std::string_view name : model.files_[i].tensor_names()) {
      auto [it, inserted] = model.index_.emplace(std::string(name), i);
      if (!inserted) {
        return DataLossError("tensor \"{}\" is in both {} and {}", name,
                             model.files_[it->second].path(), model.files_[i].path());
      }
    }
  }
  return model;
}

std::vector<std::string_view> SafetensorsModel::tensor_names() const {
  std::vector<std::string_view> names;
  names.reserve(index_.size());
  for (const auto& [name, file] : index_) names.push_back(name);
  return names;
}

Result<TensorView> SafetensorsModel::tensor(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    return NotFoundError("the model has no tensor \"{}\" ({} tensors in {} file(s))", name,
                         index_.size(), files_.size());
  }
  return files_[it->second].tensor(name);
}

uint64_t SafetensorsModel::total_tensor_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, file] : index_) total += files_[file].tensor(name)->bytes;
  return total;
}

}  // namespace keel::model
