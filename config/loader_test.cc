#include "config/loader.h"

#include <gtest/gtest.h>

TEST(Loader, Smoke) {
  auto r = veil::config::LoadFile(VEIL_CONFIG_EXAMPLES "/veil.yaml");
  if (auto* e = std::get_if<std::vector<veil::config::Diagnostic>>(&r)) {
    for (auto& d : *e) ADD_FAILURE() << d.ToString();
  } else {
    std::cout << std::get<0>(r).config.DebugString();
  }
}
