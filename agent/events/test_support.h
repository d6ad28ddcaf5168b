// Test helpers for the events tests: a temporary folder, line files, an in-memory sink whose
// availability the test controls, and polling for what a writer thread will do.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/events/sinks.h"

namespace veil::events::testing {

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/veil-events-XXXXXX";
    path_ = ::mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path, std::ios::binary);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

inline void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

// Polls `cond` until it holds or 20 s pass (a hang guard, not a speed assertion).
inline bool WaitFor(const std::function<bool()>& cond) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

// A sink that keeps lines in memory. `up = false` makes writes fail; `blocked = true` makes
// Write wait until the test unblocks it (a receiver that never reads).
struct MemorySinkState {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> lines;
  bool up = true;
  bool blocked = false;
  int writes_waiting = 0;

  void SetUp(bool v) {
    std::lock_guard lk(mu);
    up = v;
  }
  void SetBlocked(bool v) {
    {
      std::lock_guard lk(mu);
      blocked = v;
    }
    cv.notify_all();
  }
  std::vector<std::string> Lines() {
    std::lock_guard lk(mu);
    return lines;
  }
};

class MemorySink : public Sink {
 public:
  explicit MemorySink(std::shared_ptr<MemorySinkState> s, std::string name = "memory")
      : s_(std::move(s)), name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  Status Write(std::string_view, std::string_view line) override {
    std::unique_lock lk(s_->mu);
    ++s_->writes_waiting;
    s_->cv.wait(lk, [&] { return !s_->blocked; });
    --s_->writes_waiting;
    if (!s_->up) return Error{"receiver down"};
    s_->lines.emplace_back(line);
    return Status::Ok();
  }

 private:
  std::shared_ptr<MemorySinkState> s_;
  std::string name_;
};

}  // namespace veil::events::testing
