# Every third-party dependency, found once, as an imported target named ec::<name>.
# Debian 12 packages only (scripts/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(SIMDJSON REQUIRED IMPORTED_TARGET simdjson)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(LZ4 REQUIRED IMPORTED_TARGET liblz4)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
find_package(yaml-cpp REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_library(SNAPPY_LIB snappy REQUIRED)
find_library(ROCKSDB_LIB rocksdb REQUIRED)

add_library(ec::simdjson ALIAS PkgConfig::SIMDJSON)
add_library(ec::re2 ALIAS PkgConfig::RE2)
add_library(ec::pcre2 ALIAS PkgConfig::PCRE2)
add_library(ec::rdkafka ALIAS PkgConfig::RDKAFKA)
add_library(ec::zstd ALIAS PkgConfig::ZSTD)
add_library(ec::lz4 ALIAS PkgConfig::LZ4)
add_library(ec::zlib ALIAS PkgConfig::ZLIB)
add_library(ec::curl ALIAS PkgConfig::CURL)

add_library(ec_snappy INTERFACE)
target_link_libraries(ec_snappy INTERFACE ${SNAPPY_LIB})
add_library(ec::snappy ALIAS ec_snappy)
add_library(ec_rocksdb INTERFACE)
target_link_libraries(ec_rocksdb INTERFACE ${ROCKSDB_LIB})
add_library(ec::rocksdb ALIAS ec_rocksdb)
# Boost.Asio/Beast are header-only here; keep them out of widely included headers.
add_library(ec_boost INTERFACE)
target_link_libraries(ec_boost INTERFACE Boost::headers Threads::Threads)
target_compile_definitions(ec_boost INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
add_library(ec::boost ALIAS ec_boost)

if(EC_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(EC_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# ec_add_library(NAME SOURCES... DEPS ...): one static library per subsystem.
function(ec_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# ec_add_test(NAME SOURCES... DEPS ...): a GoogleTest binary registered with CTest.
function(ec_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE
    EC_SOURCE_DIR="${PROJECT_SOURCE_DIR}" EC_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared"
    EC_BINARY="$<TARGET_FILE:eventception>")
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
