# Validators: pure per-candidate checks (checksums, issuer tables, shapes) behind the Hyperscan
# prefilter. Included by masker/CMakeLists.txt.
add_library(veil_masker_validators STATIC ${CMAKE_CURRENT_SOURCE_DIR}/validators.cc)
target_link_libraries(veil_masker_validators PUBLIC OpenSSL::Crypto PRIVATE veil_phonenumber)

veil_test(validators_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/validators_test.cc
  LIBS veil_masker_validators
  LABELS unit)
