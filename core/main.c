/* main.c: the tweetmatch binary: picks the subcommand. */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"
#include "rule.h"


static const char usage[] =
    "usage: tweetmatch [COMMAND] [ARGS]\n"
    "\n"
    "Reads the Twitter/X filtered stream, runs each tweet through a Lua rule\n"
    "script and writes the items it returns to Amazon DynamoDB.\n"
    "\n"
    "commands:\n"
    "  run                 the daemon, configured from the environment (the default)\n"
    "  test [--expect FILE] [--plain] SCRIPT [INPUT...]\n"
    "                      feed NDJSON tweets through SCRIPT, print the items\n"
    "  check SCRIPT        load SCRIPT and run the examples it declares\n"
    "  health              exit 0 when the daemon's heartbeat is fresh and healthy\n"
    "  version             print the versions of tweetmatch and its libraries\n"
    "\n"
    "'tweetmatch COMMAND --help' describes a command.\n";

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && is_help(argv[1])) {
        printf("usage: tweetmatch version\n\nPrints the versions of tweetmatch, Lua, libcurl and OpenSSL.\n");
        return EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "tweetmatch version: unexpected argument '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    curl_version_info_data *c = curl_version_info(CURLVERSION_NOW);
    printf("tweetmatch %s\n%s (lua-cjson 2.1.0)\nlibcurl %s\n%s\n", TM_VERSION, rule_lua_version(), c->version,
           OpenSSL_version(OPENSSL_VERSION));
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return daemon_run(argc, argv);
    const char *cmd = argv[1];
    if (is_help(cmd)) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "test") == 0)
        return cli_test(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return cmd_version(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return daemon_run(argc - 1, argv + 1);
    if (strcmp(cmd, "health") == 0)
        return daemon_health(argc - 1, argv + 1);
    fprintf(stderr, "tweetmatch: unknown command '%s'\n\n%s", cmd, usage);
    return EXIT_USAGE;
}
