#include "keel/server/api_error.h"

#include <algorithm>
#include <array>

#include "keel/core/check.h"

namespace keel::server {
namespace {

constexpr std::array<StatusMapping, 12> kTable = {{
    {StatusCode::kOk, 200, "", ""},
    {StatusCode::kInvalidArgument, 400, "invalid_request_error", "invalid_argument"},
    {StatusCode::kOutOfRange, 400, "invalid_request_error", "out_of_range"},
    {StatusCode::kFailedPrecondition, 400, "invalid_request_error", "failed_precondition"},
    {StatusCode::kNotFound, 404, "not_found_error", "not_found"},
    {StatusCode::kCancelled, 499, "invalid_request_error", "cancelled"},
    {StatusCode::kUnimplemented, 501, "invalid_request_error", "not_implemented"},
    {StatusCode::kInternal, 500, "server_error", "internal_error"},
    {StatusCode::kDataLoss, 500, "server_error", "data_loss"},
    {StatusCode::kUnavailable, 503, "server_error", "unavailable"},
    {StatusCode::kResourceExhausted, 503, "server_error", "resource_exhausted"},
    {StatusCode::kDeadlineExceeded, 504, "server_error", "deadline_exceeded"},
}};

}  // namespace

std::span<const StatusMapping> status_table() { return kTable; }

const StatusMapping& status_mapping(StatusCode code) {
  auto it = std::find_if(kTable.begin(), kTable.end(),
                         [code](const StatusMapping& m) { return m.code == code; });
  // Unknown codes (a future addition not yet in the table) are internal errors.
  if (it == kTable.end()) return kTable[7];
  return *it;
}

int http_status_for(StatusCode code) { return status_mapping(code).http_status; }

bool is_retryable(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kResourceExhausted;
}

ApiError api_error_from_status(const Status& status, std::optional<std::string> param,
                               int64_t retry_after_seconds) {
  KEEL_CHECK(!status.ok()) << "api_error_from_status(OK)";
  const StatusMapping& m = status_mapping(status.code());
  ApiError e;
  e.http_status = m.http_status;
  e.type = std::string(m.type);
  e.code = std::string(m.code_name);
  e.param = std::move(param);
  e.message = std::string(status.message());
  if (is_retryable(status.code()))
    e.retry_after_seconds = std::max<int64_t>(1, retry_after_seconds);
  return e;
}

ApiError invalid_request(std::string param, std::string message) {
  ApiError e;
  e.http_status = 400;
  e.type = "invalid_request_error";
  e.code = "invalid_argument";
  e.param = std::move(param);
  e.message = std::move(message);
  return e;
}

ApiError http_error(int http_status, std::string_view type, std::string_view code,
                    std::string message) {
  ApiError e;
  e.http_status = http_status;
  e.type = std::string(type);
  e.code = std::string(code);
  e.message = std::move(message);
  return e;
}

}  // namespace keel::server
