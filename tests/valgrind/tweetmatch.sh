#!/bin/sh
# tweetmatch under valgrind memcheck, for the valgrind.* ctest cases: the
# test scripts run this in place of the binary (TWEETMATCH=this script,
# TM_VALGRIND_BINARY=the real one). Any memory error (invalid read or
# write, use of uninitialised memory, bad free) and any definite or
# indirect leak makes the process exit 99, which every case treats as a
# failure; valgrind's report goes to stderr, where the case shows it.
# exec: signals (SIGTERM, SIGHUP) reach valgrind, which passes them on.
: "${TM_VALGRIND_BINARY:?TM_VALGRIND_BINARY must name the tweetmatch binary}"
exec valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect "$TM_VALGRIND_BINARY" "$@"
