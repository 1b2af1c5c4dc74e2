# cmake -DSKIPJOIN=<binary> -DVERSION=<project version> -P check_version.cmake
# Fails unless `skipjoin --version` exits 0 and prints exactly "skipjoin VERSION".
execute_process(COMMAND ${SKIPJOIN} --version OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "skipjoin --version exited ${rc}: ${err}")
endif()
if(NOT out STREQUAL "skipjoin ${VERSION}\n")
  message(FATAL_ERROR "skipjoin --version printed '${out}', expected 'skipjoin ${VERSION}'")
endif()
