# skipjoin_add_test(NAME <name> SOURCES <files...> LIBS <libs...> LABELS <labels...>)
# Registers one GoogleTest executable with ctest and tags it with labels
# (unit, integration, e2e, gpu, slow) so `ctest -L unit` selects it.
include(GoogleTest)
function(skipjoin_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "SKIPJOIN_SOURCE_DIR=${PROJECT_SOURCE_DIR};SKIPJOIN_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
