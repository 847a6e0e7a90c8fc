// The one exception type for errors a user causes (bad input, infeasible scenarios). It carries
// the exit code the CLI returns, the JSON pointer (or file path) at fault and what was expected.
// It is thrown anywhere in the library and caught once, in cli/ or gui/.
#pragma once

#include <stdexcept>
#include <string>

namespace fmsim {

enum class ExitCode : int {
  kOk = 0,
  kExpectationFailed = 1,  // an `expect` entry of the scenario did not hold
  kBadInput = 2,           // usage, JSON syntax, schema, unknown names, files
  kInfeasible = 3,         // the scenario cannot run (memory, parallelism vs cluster)
};

class Error : public std::runtime_error {
 public:
  // `where` is a JSON pointer ("/cluster/nodes") or a file path; `message` says what was wrong
  // and what was expected. what() is the one line the CLI prints.
  Error(ExitCode code, std::string where, std::string message)
      : std::runtime_error(where.empty() ? message : where + ": " + message),
        code_(code),
        where_(std::move(where)),
        message_(std::move(message)) {}

  ExitCode code() const { return code_; }
  const std::string& where() const { return where_; }
  const std::string& message() const { return message_; }

 private:
  ExitCode code_;
  std::string where_;
  std::string message_;
};

inline Error bad_input(std::string where, std::string message) {
  return Error(ExitCode::kBadInput, std::move(where), std::move(message));
}

}  // namespace fmsim
