file(REMOVE_RECURSE
  "CMakeFiles/tweetmatch.dir/core/main.c.o"
  "CMakeFiles/tweetmatch.dir/core/main.c.o.d"
  "tweetmatch"
  "tweetmatch.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/tweetmatch.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
