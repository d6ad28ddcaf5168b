// `veilctl scan` and `veilctl mask` (SPEC §7): the masking engine over files or stdin, with no
// agent. Input is processed line by line in a streaming fashion (constant memory whatever the
// file size); scan prints one JSON object per finding, mask prints the input with every
// finding replaced, line for line.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "masker/masker.h"
#include "masker/profile.h"

namespace veil::veilctl {

struct ProfileChoice {
  std::optional<std::string> config_file;  // --config; else /etc/veil/veil.yaml if present
  std::string profile = "default";         // --profile
};

// Loads the profile to use. Errors are complete user-facing messages (config diagnostics as
// file:line:col lines).
Result<std::shared_ptr<const masker::MaskingProfile>> LoadProfile(const ProfileChoice& choice);

enum class Mode { kScan, kMask };

// Streams `in` to `out`. `file_label` is added as "file" to scan findings when non-empty.
Status Process(Mode mode, masker::Masker& masker, std::FILE* in, std::FILE* out,
               const std::string& file_label);

}  // namespace veil::veilctl
