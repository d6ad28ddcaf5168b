#include "agent/protocol/endpoint.h"

namespace veil::agent {

void SessionRegistry::Put(Info info, std::function<void()> kill) {
  std::lock_guard lock(mu_);
  sessions_[info.id] = {std::move(info), std::move(kill)};
}

void SessionRegistry::Remove(uint64_t id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

std::vector<SessionRegistry::Info> SessionRegistry::List() const {
  std::lock_guard lock(mu_);
  std::vector<Info> out;
  for (const auto& [_, s] : sessions_) out.push_back(s.first);
  return out;
}

bool SessionRegistry::Kill(uint64_t id) {
  std::function<void()> kill;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return false;
    kill = it->second.second;
  }
  kill();
  return true;
}

void CancelRegistry::Put(int32_t pid, const std::string& secret, CancelTarget target) {
  std::lock_guard lock(mu_);
  targets_[{pid, secret}] = std::move(target);
}

void CancelRegistry::Remove(int32_t pid, const std::string& secret) {
  std::lock_guard lock(mu_);
  targets_.erase({pid, secret});
}

std::optional<CancelTarget> CancelRegistry::Find(int32_t pid, const std::string& secret) const {
  std::lock_guard lock(mu_);
  auto it = targets_.find({pid, secret});
  if (it == targets_.end()) return std::nullopt;
  return it->second;
}

}  // namespace veil::agent
