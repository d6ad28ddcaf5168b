# FF1 format-preserving encryption (NIST SP 800-38G) on OpenSSL AES.
add_library(veil_masker_ff1 STATIC ${CMAKE_CURRENT_SOURCE_DIR}/ff1.cc)
target_link_libraries(veil_masker_ff1 PUBLIC OpenSSL::Crypto)

veil_test(ff1_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ff1_test.cc LIBS veil_masker_ff1 LABELS unit)
