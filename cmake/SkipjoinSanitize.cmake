# Sanitizer and fuzzing builds (options in the top-level CMakeLists.txt).
#
# SKIPJOIN_SANITIZE=address,undefined (any -fsanitize= list) instruments every
# target of the tree. Undefined behaviour aborts at the first report
# (-fno-sanitize-recover), so a test that hits it fails instead of logging and
# passing. tests/sanitizer/ holds the runtime options and suppressions that
# scripts/ci_extra.sh passes to the sanitized tests.
#
# SKIPJOIN_FUZZ builds the libFuzzer targets in tests/fuzz with clang: every
# library gets coverage instrumentation (-fsanitize=fuzzer-no-link) plus ASan
# and UBSan, and only the fuzz executables link libFuzzer's main.
if(SKIPJOIN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "SKIPJOIN_FUZZ needs clang (libFuzzer); configure with CC=clang CXX=clang++")
  endif()
  if(SKIPJOIN_SANITIZE STREQUAL "")
    set(SKIPJOIN_SANITIZE "address,undefined")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=fuzzer-no-link>)
  add_link_options(-fsanitize=fuzzer-no-link)
endif()

if(NOT SKIPJOIN_SANITIZE STREQUAL "")
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=${SKIPJOIN_SANITIZE}>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-omit-frame-pointer>)
  add_link_options(-fsanitize=${SKIPJOIN_SANITIZE})
  if(SKIPJOIN_SANITIZE MATCHES "undefined")
    add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fno-sanitize-recover=undefined>)
  endif()
  message(STATUS "skipjoin: sanitizers ${SKIPJOIN_SANITIZE}")
endif()
