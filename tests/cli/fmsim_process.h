// Running the built `fmsim` binary (FMSIM_EXE) from a test: a fixture with a fresh working folder
// per test, and the small text helpers the command-line tests share.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fmsim::testing_support {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Exactly one non-empty line, ending in a newline.
inline testing::AssertionResult IsOneLine(const std::string& text) {
  const auto newlines = std::count(text.begin(), text.end(), '\n');
  if (text.size() > 1 && newlines == 1 && text.back() == '\n') {
    return testing::AssertionSuccess();
  }
  return testing::AssertionFailure() << "expected one line, got " << newlines << " newline(s):\n"
                                     << text;
}

// Each test gets its own empty working folder, removed afterwards; run() starts fmsim there.
class FmsimProcessTest : public testing::Test {
 protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path(testing::TempDir()) / ("fmsim_" + std::string(info->test_suite_name()) + "_" +
                                            info->name() + "_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "work");
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  fs::path dir() const { return root_ / "work"; }

  // Writes `text` to `name` in the working folder and returns its path.
  std::string write_text(const std::string& name, const std::string& text) const {
    const fs::path path = dir() / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  // Runs fmsim with `args` in the working folder.
  Outcome run(const std::vector<std::string>& args) const {
    std::string command = "cd " + shell_quote(dir().string()) + " && " + shell_quote(FMSIM_EXE);
    for (const auto& arg : args) command += " " + shell_quote(arg);
    const fs::path out = root_ / "stdout.txt", err = root_ / "stderr.txt";
    command += " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string());
    const int status = std::system(command.c_str());
    Outcome outcome;
    if (status != -1 && WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
    outcome.out = read_file(out);
    outcome.err = read_file(err);
    return outcome;
  }

  // Runs fmsim and checks the bad-input contract: exit code 2, one line on stderr that contains
  // `names` (the JSON pointer or the path at fault).
  Outcome expect_bad_input(const std::vector<std::string>& args, const std::string& names) const {
    const Outcome outcome = run(args);
    EXPECT_EQ(outcome.exit_code, 2) << outcome.err;
    EXPECT_TRUE(IsOneLine(outcome.err));
    EXPECT_TRUE(contains(outcome.err, names)) << "stderr does not name " << names << ":\n"
                                              << outcome.err;
    return outcome;
  }

 private:
  fs::path root_;
};

}  // namespace fmsim::testing_support
