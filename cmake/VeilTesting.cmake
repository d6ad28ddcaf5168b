include(GoogleTest)
# veil_test(NAME SOURCES a.cc b.cc LIBS lib... LABELS unit|integration|bpf [LOCK name])
# LOCK: a ctest RESOURCE_LOCK; test cases holding the same one never run side by side.
function(veil_test name)
  cmake_parse_arguments(T "" "LOCK" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gmock GTest::gtest_main)
  # eBPF tests attach programs at the cgroup root: one that denies unlisted database ports
  # (bpf_pytest's coverage tests) refuses another's clients, so they never run side by side.
  if("bpf" IN_LIST T_LABELS)
    set(T_LOCK bpf_hooks)
  endif()
  gtest_discover_tests(${name}
    # One test case that hangs (a child blocked on a socket it should not have) must fail, not
    # hold ctest, and CI with it, past its limit.
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT 300 RESOURCE_LOCK "${T_LOCK}"
    DISCOVERY_TIMEOUT 60)
endfunction()
