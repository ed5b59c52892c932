/* URL input: arguments first, then one URL a line from each -i FILE (or
   stdin) in the order given. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fetchall.h"

static FILE *open_path(const char *path)
{
    struct stat st;
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        if (f != stdin)
            fclose(f);
        errno = EISDIR;
        return NULL;
    }
    return f;
}

static void close_file(input *in)
{
    if (in->file && in->file != stdin)
        fclose(in->file);
    in->file = NULL;
}

int input_open(input *in, char **args, int nargs, const char *const *paths,
               int npaths)
{
    memset(in, 0, sizeof *in);
    in->args = args;
    in->nargs = nargs;
    in->paths = paths;
    in->npaths = npaths;
    /* every file now: a typo in the third is a usage error, not a surprise
       after the first two were fetched */
    for (int i = 0; i < npaths; i++) {
        FILE *f = open_path(paths[i]);
        if (!f) {
            fprintf(stderr, "fetchall: %s: %s\n", paths[i], strerror(errno));
            return -1;
        }
        if (f != stdin)
            fclose(f);
    }
    return 0;
}

const char *input_next(input *in)
{
    if (in->next_arg < in->nargs)
        return in->args[in->next_arg++];
    for (;;) {
        if (!in->file) {
            if (in->next_path == in->npaths || in->failed)
                return NULL;
            const char *path = in->paths[in->next_path++];
            if (!(in->file = open_path(path))) {
                fprintf(stderr, "fetchall: %s: %s\n", path, strerror(errno));
                in->failed = 1;
                return NULL;
            }
        }
        while (getline(&in->line, &in->cap, in->file) >= 0) {
            char *s = in->line, *e;
            s += strspn(s, " \t\r\n");
            e = s + strlen(s);
            while (e > s && strchr(" \t\r\n", e[-1]))
                *--e = '\0';
            if (*s && *s != '#') /* skip blank lines and comments */
                return s;
        }
        if (ferror(in->file)) {
            const char *path = in->paths[in->next_path - 1];
            fprintf(stderr, "fetchall: %s: %s\n", path, strerror(errno));
            in->failed = 1;
        }
        close_file(in);
    }
}

void input_close(input *in)
{
    close_file(in);
    free(in->line);
}
