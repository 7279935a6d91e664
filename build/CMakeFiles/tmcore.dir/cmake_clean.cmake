file(REMOVE_RECURSE
  "CMakeFiles/tmcore.dir/core/buf.c.o"
  "CMakeFiles/tmcore.dir/core/buf.c.o.d"
  "CMakeFiles/tmcore.dir/core/cli_rule.c.o"
  "CMakeFiles/tmcore.dir/core/cli_rule.c.o.d"
  "CMakeFiles/tmcore.dir/core/config.c.o"
  "CMakeFiles/tmcore.dir/core/config.c.o.d"
  "CMakeFiles/tmcore.dir/core/frame.c.o"
  "CMakeFiles/tmcore.dir/core/frame.c.o.d"
  "CMakeFiles/tmcore.dir/core/item.c.o"
  "CMakeFiles/tmcore.dir/core/item.c.o.d"
  "CMakeFiles/tmcore.dir/core/json.c.o"
  "CMakeFiles/tmcore.dir/core/json.c.o.d"
  "CMakeFiles/tmcore.dir/core/mem.c.o"
  "CMakeFiles/tmcore.dir/core/mem.c.o.d"
  "CMakeFiles/tmcore.dir/core/paths.c.o"
  "CMakeFiles/tmcore.dir/core/paths.c.o.d"
  "CMakeFiles/tmcore.dir/core/rule.c.o"
  "CMakeFiles/tmcore.dir/core/rule.c.o.d"
  "CMakeFiles/tmcore.dir/core/rule_marshal.c.o"
  "CMakeFiles/tmcore.dir/core/rule_marshal.c.o.d"
  "CMakeFiles/tmcore.dir/core/utf8.c.o"
  "CMakeFiles/tmcore.dir/core/utf8.c.o.d"
  "libtmcore.a"
  "libtmcore.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/tmcore.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
