// The time source of the grant store: grant windows, expiry and pending deadlines are all decided
// against Clock::NowSeconds(), so that tests drive time with FakeClock and never sleep.
//
//   SystemClock clock;                      // veild
//   FakeClock clock(1'700'000'000);         // tests: clock.Advance(3600);
//
// Thread-safety: NowSeconds() may be called from any thread. FakeClock's setters are atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace veil::grants {

class Clock {
 public:
  virtual ~Clock() = default;
  // Unix time, whole seconds.
  virtual int64_t NowSeconds() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowSeconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now = 1'700'000'000) : now_(now) {}
  int64_t NowSeconds() const override { return now_.load(); }
  void Set(int64_t now) { now_.store(now); }
  void Advance(int64_t seconds) { now_.fetch_add(seconds); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace veil::grants
