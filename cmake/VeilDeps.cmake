# Every third-party dependency is a Debian package installed by tools/setup.sh.
find_package(PkgConfig REQUIRED)
pkg_check_modules(HS REQUIRED IMPORTED_TARGET libhs)        # Hyperscan or Vectorscan: hs.h only
pkg_check_modules(RE2 IMPORTED_TARGET re2)                   # benchmark baseline only
find_package(OpenSSL 3 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(Protobuf REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
find_library(PHONENUMBER_LIB phonenumber REQUIRED)
find_path(PHONENUMBER_INCLUDE phonenumbers/phonenumberutil.h REQUIRED)
add_library(veil_phonenumber INTERFACE)
target_link_libraries(veil_phonenumber INTERFACE ${PHONENUMBER_LIB})
target_include_directories(veil_phonenumber SYSTEM INTERFACE ${PHONENUMBER_INCLUDE})
