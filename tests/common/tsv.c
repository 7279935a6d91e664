/* tsv.c: see tsv.h. */
#include "tsv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

size_t tsv_unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p != '\\' || p[1] == '\0') {
            *o++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 't': *o++ = '\t'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case '\\': *o++ = '\\'; break;
        case 'x': {
            /* Never reads past the string's end, even for a cut "\x4". */
            char hex[3] = {p[1], p[1] ? p[2] : 0, 0};
            *o++ = (char)strtol(hex, NULL, 16);
            p += p[1] ? (p[2] ? 2 : 1) : 0;
            break;
        }
        default: *o++ = '\\'; *o++ = *p;
        }
    }
    *o = '\0';
    return (size_t)(o - s);
}

bool tsv_find_row(const char *file, const char *name, tsv_row *out)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        perror(file);
        return false;
    }
    char *line = NULL;
    size_t cap = 0, nlen = strlen(name);
    ssize_t len;
    bool found = false;
    while (!found && (len = getline(&line, &cap, f)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (strncmp(line, name, nlen) != 0 || line[nlen] != '\t')
            continue;
        out->n = 0;
        for (char *p = line, *tab; p && out->n < TSV_MAX_COLS; p = tab ? tab + 1 : NULL) {
            tab = strchr(p, '\t');
            if (tab)
                *tab = '\0';
            out->col[out->n] = xstrdup(p);
            out->len[out->n] = tsv_unescape(out->col[out->n]);
            out->n++;
        }
        found = true;
    }
    free(line);
    fclose(f);
    if (!found)
        fprintf(stderr, "%s: no case named %s\n", file, name);
    return found;
}

void tsv_row_free(tsv_row *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->col[i]);
    r->n = 0;
}
