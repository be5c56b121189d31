# Warnings are errors (STYLE.md §10.3), and the sanitizer presets.
add_library(sb_warnings INTERFACE)
target_compile_options(sb_warnings INTERFACE
  -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wformat-security -Wvla -Wpointer-arith -Wcast-qual -Wwrite-strings
  -Wundef -Wimplicit-fallthrough -Wnull-dereference -Wdouble-promotion)

option(ENABLE_ASAN "Build with AddressSanitizer + UndefinedBehaviorSanitizer" OFF)
option(ENABLE_TSAN "Build with ThreadSanitizer" OFF)
if(ENABLE_ASAN AND ENABLE_TSAN)
  message(FATAL_ERROR "ENABLE_ASAN and ENABLE_TSAN are exclusive")
endif()
if(ENABLE_ASAN)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()
if(ENABLE_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=thread)
endif()
if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
  # protobuf-c's generated *__INIT macros cast away const; GCC silences warnings from system-header
  # macros, clang reports them where they are used (clang builds: the fuzz preset).
  target_compile_options(sb_warnings INTERFACE -Wno-cast-qual)
endif()
