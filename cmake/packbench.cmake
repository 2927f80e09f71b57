# packbench build helpers: one library per module folder, one test program per test file.

# pb_module_library(NAME DEPS...): a static library from every .cpp in the current folder.
function(pb_module_library name)
  file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(${name} STATIC ${_srcs})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  target_link_libraries(${name} PUBLIC ${ARGN})
endfunction()

# pb_module_tests(LIBS...): every test_*.cpp in the current folder becomes one GoogleTest
# program, named after its folder below tests/ (tests/evals/ifeval/test_x.cpp -> target
# evals_ifeval_test_x, test names "evals.ifeval.Suite.Case"). The file name picks the CTest label:
#   test_slow_real_*.cpp -> slow and real-data, test_slow_*.cpp -> slow, test_real_*.cpp -> real-data,
#   test_gpu_*.cpp -> gpu (needs a CUDA device, skips without one), any other test_*.cpp -> fast.
# Names listed in PB_TORCH_ONLY_TESTS are skipped when PACKBENCH_WITH_TORCH is OFF.
function(pb_module_tests)
  file(GLOB _tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_*.cpp)
  foreach(_src ${_tests})
    get_filename_component(_name ${_src} NAME_WE)
    if(NOT PACKBENCH_WITH_TORCH AND _name IN_LIST PB_TORCH_ONLY_TESTS)
      continue()
    endif()
    file(RELATIVE_PATH _rel ${PROJECT_SOURCE_DIR}/tests ${CMAKE_CURRENT_SOURCE_DIR})
    string(REPLACE "/" "_" _dir_target "${_rel}")
    string(REPLACE "/" "." _dir "${_rel}")
    set(_target ${_dir_target}_${_name})
    set(_also_real FALSE)
    if(_name MATCHES "^test_slow_real_")
      set(_label slow)
      set(_also_real TRUE)
      set(_timeout 3600)
    elseif(_name MATCHES "^test_slow_")
      set(_label slow)
      set(_timeout 1800)
    elseif(_name MATCHES "^test_gpu_")
      set(_label gpu)
      set(_timeout 600)
    elseif(_name MATCHES "^test_real_")
      set(_label real-data)
      set(_timeout 600)
    else()
      set(_label fast)
      set(_timeout 300)
    endif()
    add_executable(${_target} ${_src})
    target_link_libraries(${_target} PRIVATE ${ARGN} pb_test_common GTest::gtest GTest::gmock GTest::gtest_main)
    target_compile_options(${_target} PRIVATE -Wall -Wno-unused-parameter)
    gtest_discover_tests(${_target}
      DISCOVERY_MODE PRE_TEST
      TEST_PREFIX "${_dir}."
      TEST_LIST ${_target}_TESTS
      PROPERTIES LABELS ${_label} TIMEOUT ${_timeout} SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]"
      WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    if(_also_real)
      # A list-valued LABELS does not survive gtest_discover_tests' PROPERTIES, so a file CTest
      # includes after the discovered tests gives them both labels.
      file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/${_target}_labels.cmake
        "set_tests_properties(\${${_target}_TESTS} PROPERTIES LABELS \"slow;real-data\")\n")
      set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${CMAKE_CURRENT_BINARY_DIR}/${_target}_labels.cmake)
    endif()
  endforeach()
endfunction()
