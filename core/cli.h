/* cli.h: the subcommands of the tweetmatch binary. Each takes the
 * arguments after its name and returns the process exit code. */
#ifndef TM_CLI_H
#define TM_CLI_H

/* Exit codes (see the README). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_CONFIG = 2, EXIT_AUTH = 3 };

int cli_test(int argc, char **argv);
int cli_check(int argc, char **argv);

#endif
