// ApiError: an error as the HTTP API reports it, in OpenAI's shape
//   {"error": {"message", "type", "param", "code"}}
// and the one table that maps a keel StatusCode to an HTTP status.
//
// The table (README.md repeats it):
//   OK                  200
//   INVALID_ARGUMENT    400 invalid_request_error
//   OUT_OF_RANGE        400 invalid_request_error
//   FAILED_PRECONDITION 400 invalid_request_error
//   NOT_FOUND           404 not_found_error
//   CANCELLED           499 invalid_request_error  (the client went away)
//   UNIMPLEMENTED       501 invalid_request_error
//   INTERNAL            500 server_error
//   DATA_LOSS           500 server_error
//   UNAVAILABLE         503 server_error + Retry-After
//   RESOURCE_EXHAUSTED  503 server_error + Retry-After
//   DEADLINE_EXCEEDED   504 server_error
// Errors the HTTP layer finds itself (no StatusCode): 401 missing/wrong API
// key, 405 wrong method, 411 no Content-Length, 413 body too large, 431
// headers too large, 404 unknown route.
// Thread-safety: pure functions and plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "keel/core/status.h"

namespace keel::server {

struct ApiError {
  int http_status = 500;
  std::string type;                  // "invalid_request_error", "server_error", ...
  std::string code;                  // machine-readable, e.g. "invalid_argument"
  std::optional<std::string> param;  // the request field at fault, if one is
  std::string message;               // what was wrong and what to do
  int64_t retry_after_seconds = 0;   // > 0: sent as Retry-After
  int64_t retry_after_ms = 0;        // > 0: also sent as retry-after-ms (the OpenAI clients read it first)
};

struct StatusMapping {
  StatusCode code;
  int http_status;
  std::string_view type;
  std::string_view code_name;
};

// Every StatusCode, once.
std::span<const StatusMapping> status_table();
const StatusMapping& status_mapping(StatusCode code);
int http_status_for(StatusCode code);
// True for the statuses that carry Retry-After (503).
bool is_retryable(StatusCode code);

// An ApiError from a non-OK status. Retry-After (>= 1) is set for retryable
// codes from `retry_after_seconds`.
ApiError api_error_from_status(const Status& status, std::optional<std::string> param = {},
                               int64_t retry_after_seconds = 1);

// 400 invalid_request_error naming `param`.
ApiError invalid_request(std::string param, std::string message);
// An error the HTTP layer finds itself, e.g. (401, "authentication_error",
// "invalid_api_key", "...").
ApiError http_error(int http_status, std::string_view type, std::string_view code,
                    std::string message);

}  // namespace keel::server
