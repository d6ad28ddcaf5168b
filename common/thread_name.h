// Names the calling thread, as `top -H`, `ps -L` and /proc/<pid>/task/<tid>/comm show it, so an
// SRE can tell veild's threads apart (and tools/bench can charge each its CPU). Linux keeps 15
// bytes; a longer name is cut.
//
//   std::thread([] { veil::NameThisThread("veil-events"); ... });
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace veil {

inline void NameThisThread(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace veil
