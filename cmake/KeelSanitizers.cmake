if(KEEL_SANITIZE)
  string(REPLACE ";" "," _keel_san "${KEEL_SANITIZE}")
  message(STATUS "keel: sanitizers ${_keel_san}")
  add_compile_options(-fsanitize=${_keel_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_keel_san})
  add_compile_definitions(KEEL_SANITIZED=1)
endif()

# libFuzzer builds: instrument every keel library for coverage, so the fuzzer
# sees the code under test (the fuzz targets themselves link -fsanitize=fuzzer).
if(KEEL_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
