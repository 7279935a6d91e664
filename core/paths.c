/* paths.c: see paths.h. */
#include "paths.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

#ifndef TM_INSTALL_DATADIR
#define TM_INSTALL_DATADIR "/usr/local/share/tweetmatch"
#endif
#ifndef TM_SOURCE_DIR
#define TM_SOURCE_DIR "."
#endif

static char *found;

static int has_helper(const char *dir)
{
    char *p = xasprintf("%s/lua/tweetmatch.lua", dir);
    int ok = access(p, R_OK) == 0;
    free(p);
    return ok;
}

const char *paths_data_dir(void)
{
    if (found)
        return found;
    char *cands[4] = {0};
    int n = 0;
    const char *home = getenv("TWEETMATCH_HOME");
    if (home && *home)
        cands[n++] = xstrdup(home);
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            cands[n++] = xasprintf("%s/../share/tweetmatch", exe);
        }
    }
    cands[n++] = xstrdup(TM_INSTALL_DATADIR);
    cands[n++] = xstrdup(TM_SOURCE_DIR);
    for (int i = 0; i < n - 1; i++) {
        if (found == NULL && has_helper(cands[i]))
            found = cands[i];
        else
            free(cands[i]);
    }
    if (found == NULL)
        found = cands[n - 1];
    else
        free(cands[n - 1]);
    return found;
}

char *paths_lua_dir(void)
{
    return xasprintf("%s/lua", paths_data_dir());
}

char *paths_default_script(void)
{
    return xasprintf("%s/scripts/filter.lua", paths_data_dir());
}
