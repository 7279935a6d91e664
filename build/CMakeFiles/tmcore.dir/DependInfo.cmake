
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/core/buf.c" "CMakeFiles/tmcore.dir/core/buf.c.o" "gcc" "CMakeFiles/tmcore.dir/core/buf.c.o.d"
  "/work/main/core/cli_rule.c" "CMakeFiles/tmcore.dir/core/cli_rule.c.o" "gcc" "CMakeFiles/tmcore.dir/core/cli_rule.c.o.d"
  "/work/main/core/config.c" "CMakeFiles/tmcore.dir/core/config.c.o" "gcc" "CMakeFiles/tmcore.dir/core/config.c.o.d"
  "/work/main/core/frame.c" "CMakeFiles/tmcore.dir/core/frame.c.o" "gcc" "CMakeFiles/tmcore.dir/core/frame.c.o.d"
  "/work/main/core/item.c" "CMakeFiles/tmcore.dir/core/item.c.o" "gcc" "CMakeFiles/tmcore.dir/core/item.c.o.d"
  "/work/main/core/json.c" "CMakeFiles/tmcore.dir/core/json.c.o" "gcc" "CMakeFiles/tmcore.dir/core/json.c.o.d"
  "/work/main/core/mem.c" "CMakeFiles/tmcore.dir/core/mem.c.o" "gcc" "CMakeFiles/tmcore.dir/core/mem.c.o.d"
  "/work/main/core/paths.c" "CMakeFiles/tmcore.dir/core/paths.c.o" "gcc" "CMakeFiles/tmcore.dir/core/paths.c.o.d"
  "/work/main/core/rule.c" "CMakeFiles/tmcore.dir/core/rule.c.o" "gcc" "CMakeFiles/tmcore.dir/core/rule.c.o.d"
  "/work/main/core/rule_marshal.c" "CMakeFiles/tmcore.dir/core/rule_marshal.c.o" "gcc" "CMakeFiles/tmcore.dir/core/rule_marshal.c.o.d"
  "/work/main/core/utf8.c" "CMakeFiles/tmcore.dir/core/utf8.c.o" "gcc" "CMakeFiles/tmcore.dir/core/utf8.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
