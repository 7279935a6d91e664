/* paths.h: where the installed lua/ and scripts/ folders are.
 *
 * In order: $TWEETMATCH_HOME; <dir of the binary>/../share/tweetmatch (an
 * installed tree, wherever it was moved); the install prefix compiled in;
 * the source tree compiled in (a binary run from its build folder). The
 * first that holds lua/tweetmatch.lua wins. */
#ifndef TM_PATHS_H
#define TM_PATHS_H

/* The folder holding lua/ and scripts/; owned by the module, never NULL
 * (the last candidate when none has the helper module). */
const char *paths_data_dir(void);
/* paths_data_dir() + "/lua" and + "/scripts/filter.lua"; caller frees. */
char *paths_lua_dir(void);
char *paths_default_script(void);

#endif
