# The masking engine proper: catalog, Hyperscan detector, strategies, profiles, masker.
add_library(veil_masker STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/catalog.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/command_line.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/detector.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/names.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/letters.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/prefilter.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/strategy.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fake.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fake_registry.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/profile.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/masker.cc)
target_link_libraries(veil_masker PUBLIC veil_masker_validators veil_masker_ff1 veil_config
  PkgConfig::HS OpenSSL::Crypto)
# The name-frequency table is linked in as bytes (.incbin in names.cc); see masker/data/README.md.
set(VEIL_NAMES_TSV ${CMAKE_CURRENT_SOURCE_DIR}/data/names.tsv)
# The prefilter counts bits with POPCNT (SSE4.2-era CPUs; Hyperscan itself needs SSSE3).
# -mno-stv: GCC's scalar-to-vector pass moved the derivation's 64-bit bit arithmetic into xmm
# registers in the AVX-512 path, with spills and GPR<->xmm moves: 2.4x slower (540 MB/s against
# 1.3-1.4 GB/s in BM_Stage_Prefilter).
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/prefilter.cc PROPERTIES
  COMPILE_OPTIONS "-mpopcnt;-O3;-mno-stv")
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/names.cc PROPERTIES
  COMPILE_DEFINITIONS "VEIL_NAMES_TSV=\"${VEIL_NAMES_TSV}\"" OBJECT_DEPENDS ${VEIL_NAMES_TSV})

veil_test(masker_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/detector_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/strategy_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/masker_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/names_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/fake_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/prefilter_test.cc
  LIBS veil_masker LABELS unit)
# `fake` surrogates of 1M distinct values per entity: how many collide (prints a table).
add_executable(fake_collisions ${CMAKE_CURRENT_SOURCE_DIR}/fake_collisions.cc)
target_link_libraries(fake_collisions PRIVATE veil_masker)
# The same tests through the prefilter's table path (CPUs without AVX2); prefilter_test compares
# every SIMD path the CPU has with it.
add_test(NAME masker_test_portable_prefilter COMMAND masker_test)
set_tests_properties(masker_test_portable_prefilter PROPERTIES
  ENVIRONMENT "VEIL_PORTABLE_PREFILTER=1" LABELS unit)
