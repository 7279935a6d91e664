file(REMOVE_RECURSE
  "libtmcore.a"
)
