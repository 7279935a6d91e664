/* tsv.h: the test tables. A table is tab-separated text, a case per row:
 * its name, then the suite's columns; '#' lines and blank lines are
 * skipped. Columns may use the escapes \t \n \r \\ \xHH. Shared by the
 * unit test programs so that every table reads the same way. */
#ifndef TM_TEST_TSV_H
#define TM_TEST_TSV_H

#include <stdbool.h>
#include <stddef.h>

#define TSV_MAX_COLS 8

typedef struct tsv_row {
    char *col[TSV_MAX_COLS]; /* unescaped, NUL-terminated (may hold NULs) */
    size_t len[TSV_MAX_COLS];
    int n;
} tsv_row;

/* Decodes the escapes of s in place; returns the new length. */
size_t tsv_unescape(char *s);

/* Finds the row named name in file. False (with a message on stderr) when
 * the file cannot be read or has no such row. */
bool tsv_find_row(const char *file, const char *name, tsv_row *out);

void tsv_row_free(tsv_row *r);

#endif
