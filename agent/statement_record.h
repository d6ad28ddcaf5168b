// StatementRecord: what one statement did, whatever the protocol, for its usage event and the
// metrics (agent/usage.h). A protocol's transcoder fills it while the statement's results pass.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "masker/masker.h"

namespace veil::agent {

// Holds the statement as the client sent it — raw; literals must be replaced (events'
// NormalizeStatement) before it leaves the agent.
struct StatementRecord {
  std::string text;
  std::string guardrail;     // the guardrail that blocked it, if one did
  std::string command_tag;   // of its (last) completion, e.g. "SELECT 3" (a CommandComplete)
  std::string sqlstate;      // of its error, if it failed
  uint64_t rows = 0;         // result rows sent to the client
  uint64_t bytes = 0;        // bytes sent to the client while it ran
  masker::MaskStats masked;  // values masked, per entity (result rows, COPY, error texts)
  std::map<std::string, uint64_t> masked_by_column;  // a column's label → values masked
  // Output columns replaced whole because of their lineage: "label <- schema.table.column,…".
  std::vector<std::string> lineage_masked;
  std::chrono::steady_clock::duration duration{};
};

}  // namespace veil::agent
